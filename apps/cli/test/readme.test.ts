import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { FakeHub } from '@pythiajs/checkpoint-hub/testing';
import { parseNeoXConfig, randomCheckpoint } from '@pythiajs/neox-model';
import { checkReadmeBlocks, readmeShellLines } from '@pythiajs/vitest-config/readme-example';
import { safetensorsOf } from '@pythiajs/vitest-config/safetensors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, type Run, runProcess } from './support.js';

const README = new URL('../README.md', import.meta.url);
const lines = readmeShellLines(README);
const line = (command: string) => {
  const found = lines.find((l) => l.command === command);
  if (!found) throw new Error(`the README no longer shows \`${command}\``);
  return found;
};

// The default model, EleutherAI/pythia-70m-deduped, with its 6 layers, 8 heads and vocabulary
// but a width of 64 and random weights, served by a local Hub.
const checkpoint = randomCheckpoint(
  parseNeoXConfig({
    hidden_size: 64,
    num_attention_heads: 8,
    num_hidden_layers: 6,
    intermediate_size: 256,
    vocab_size: 50304,
    rotary_pct: 0.25,
    max_position_embeddings: 2048,
    use_parallel_residual: true,
    hidden_act: 'gelu',
  }),
  { seed: 70 },
);
const COMMIT = 'f'.repeat(40);

// `pythia` on the PATH is the built bin, so each README line runs in bash exactly as written.
const scratch = mkdtempSync(join(tmpdir(), 'cli-readme-'));
const shim = join(scratch, 'bin', 'pythia');
let hub: FakeHub;

beforeAll(async () => {
  mkdirSync(join(scratch, 'bin'));
  writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${bin}" "$@"\n`);
  chmodSync(shim, 0o755);
  hub = await new FakeHub({
    'EleutherAI/pythia-70m-deduped': {
      branches: { main: COMMIT },
      commits: {
        [COMMIT]: {
          'config.json': JSON.stringify(checkpoint.config),
          'model.safetensors': await safetensorsOf(checkpoint),
        },
      },
    },
  }).start();
});
afterAll(async () => {
  await hub?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** A README command line in bash, with the shim first on PATH and the stand-in as the Hub. */
function bash(command: string): Promise<Run> {
  return runProcess('bash', ['-c', command], {
    cwd: scratch,
    env: {
      PATH: `${join(scratch, 'bin')}${delimiter}${process.env.PATH}`,
      HF_ENDPOINT: hub.hubOrigin,
      HF_HUB_CACHE: join(scratch, 'hub'),
      HF_HUB_OFFLINE: undefined,
      HF_TOKEN: undefined,
    },
  });
}

describe("the README's commands, run as written", () => {
  it.each([
    ['pythia tokenize "Hello, I am"', '12092,13,309,717'],
    ['pythia detokenize 12092,13,309,717', 'Hello, I am'],
  ])('%s prints what its comment says', async (command, printed) => {
    const { comment } = line(command);
    expect(comment).toBe(printed);
    const run = await bash(command);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(comment);
  });

  it('pythia generate "Hello, I am" streams a continuation of the default model', async () => {
    const run = await bash(line('pythia generate "Hello, I am"').command);
    expect(run.code).toBe(0);
    expect(run.stdout.length).toBeGreaterThan(0);
  });

  it('generate --json prints the fields its comment names', async () => {
    const { command, comment } = line(
      'pythia generate --ids 12092,13,309,717 --temperature 0 --json',
    );
    expect(comment).toBe('{"ids": [...], "text": ..., "tokens_per_s": ...}');
    const run = await bash(command);
    expect(run.code).toBe(0);
    const json = JSON.parse(run.stdout);
    expect(Object.keys(json)).toEqual(expect.arrayContaining(['ids', 'text', 'tokens_per_s']));
    expect(json.ids.length).toBeGreaterThan(0);
  });
});

/** The bench line of the README's bench section: one configuration of a batch, its new fields. */
async function benchesABatch() {
  const { command, comment } = line('pythia bench --batch 2 --prompt-tokens 8 --decode 4 --json');
  expect(comment).toBe(
    '{..., "batch": 2, "decode_dispatches_per_step": ..., "decode_js_ms_per_step": ..., "gpu_bytes": ...}',
  );
  const run = await bash(command);
  expect(run.code, run.stderr).toBe(0);
  const json = JSON.parse(run.stdout);
  expect(json).toMatchObject({ batch: 2, prefill_tokens: 8, decode_tokens: 4 });
  for (const key of ['decode_dispatches_per_step', 'decode_js_ms_per_step', 'gpu_bytes'])
    expect(json[key]).toBeGreaterThan(0);
}

describe('every block of the README is run or says why not', () => {
  checkReadmeBlocks(README, {
    0: {
      language: 'bash',
      skip: 'npm install is not run; its pythia generate line runs in "the README\'s commands" above',
    },
    1: {
      language: 'bash',
      skip: "a refusal on a 24 GB machine without a GPU; memory-check.test.ts checks the message's form",
    },
    2: {
      language: 'bash',
      skip: 'most lines need real Pythia checkpoints or files; those with a checked output run above',
    },
    3: {
      language: 'bash',
      name: 'benches a batch and prints the fields its comment names',
      test: benchesABatch,
    },
    4: { language: '', skip: "Dawn's own stderr lines, not a command" },
  });
});
