import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { bytesSource, readSafetensorsHeader } from '@pythiajs/checkpoint-hub';
import { FakeHub } from '@pythiajs/checkpoint-hub/testing';
import { parseNeoXConfig, randomCheckpoint } from '@pythiajs/neox-model';
import { NARROW_PYTHIA_70M } from '@pythiajs/vitest-config/narrow-pythia';
import { checkReadmeBlocks, readmeShellLines } from '@pythiajs/vitest-config/readme-example';
import { safetensorsOf } from '@pythiajs/vitest-config/safetensors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetRepos } from './eval-datasets.js';
import { bin, hubEnv, type Run, runProcess } from './support.js';

const README = new URL('../README.md', import.meta.url);
const lines = readmeShellLines(README);
const line = (command: string) => {
  const found = lines.find((l) => l.command === command);
  if (!found) throw new Error(`the README no longer shows \`${command}\``);
  return found;
};

// The default model, EleutherAI/pythia-70m-deduped, with its 6 layers, 8 heads and vocabulary
// but a width of 64 and random weights, served by a local Hub.
const config = parseNeoXConfig(NARROW_PYTHIA_70M);
const checkpoint = randomCheckpoint(config, { seed: 70 });
const COMMIT = 'f'.repeat(40);
// An earlier training checkpoint for the sweep line: other weights; step143000 is main's.
const early = randomCheckpoint(config, { seed: 71 });
const STEP1000 = 'e'.repeat(40);

// `pythia` on the PATH is the built bin, so each README line runs in bash exactly as written.
const scratch = mkdtempSync(join(tmpdir(), 'cli-readme-'));
const shim = join(scratch, 'bin', 'pythia');
let hub: FakeHub;

beforeAll(async () => {
  mkdirSync(join(scratch, 'bin'));
  writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${bin}" "$@"\n`);
  chmodSync(shim, 0o755);
  hub = await new FakeHub(
    {
      'EleutherAI/pythia-70m-deduped': {
        branches: { main: COMMIT, step1000: STEP1000, step3000: STEP1000, step143000: COMMIT },
        commits: {
          [COMMIT]: {
            'config.json': JSON.stringify(checkpoint.config),
            'model.safetensors': await safetensorsOf(checkpoint),
          },
          [STEP1000]: {
            'config.json': JSON.stringify(early.config),
            'model.safetensors': await safetensorsOf(early),
          },
        },
      },
    },
    { datasets: datasetRepos() },
  ).start();
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
      ...hubEnv(hub.hubOrigin, join(scratch, 'hub')),
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

/**
 * The activations section: its pythia line runs as written; its python line is not run (the
 * tests do not depend on Python), its output is checked by reading the file here instead.
 */
async function writesActivations() {
  const { command, comment } = line(
    `pythia activations --names 'blocks.*.hook_resid_post' --text "Hello, I am" --out acts.safetensors --json`,
  );
  expect(comment).toBe(
    '{"out": "acts.safetensors", "names": [...], "shapes": {...}, "tokens": 4, ...}',
  );
  const run = await bash(command);
  expect(run.code, run.stderr).toBe(0);
  const json = JSON.parse(run.stdout);
  expect(json).toMatchObject({ out: 'acts.safetensors', tokens: 4 });
  expect(json.names).toHaveLength(6);
  const python = line(
    `python -c "from safetensors.numpy import load_file; print(load_file('acts.safetensors')['blocks.5.hook_resid_post'].shape)"`,
  );
  // pythia-70m-deduped's d_model is 512; the stand-in here has its layers at a width of 64.
  expect(python.comment).toBe('(4, 512)');
  const bytes = new Uint8Array(readFileSync(join(scratch, 'acts.safetensors')));
  const { tensors } = await readSafetensorsHeader(bytesSource(bytes), 'acts.safetensors');
  const last = tensors.find((t) => t.name === 'blocks.5.hook_resid_post');
  expect(last).toMatchObject({ dtype: 'F32', shape: [4, 64] });
}

describe("the README's lens lines, run as written", () => {
  it('--top-k 5 --token " Mary" prints, per layer, the token\'s probability and rank and the top 5', async () => {
    const run = await bash(
      line(
        'pythia lens --text "When Mary and John went to the store, John gave a drink to" --top-k 5 --token " Mary"',
      ).command,
    );
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^position \d+, after " to": p\(" Mary"\) by layer$/);
    expect(lines[1]).toMatch(/^layer +p +rank +top 1 +top 2 +top 3 +top 4 +top 5$/);
    // The embedding, then each of the 6 layers.
    expect(lines.slice(2).map((l) => l.split(' ')[0])).toEqual([
      'embed',
      ...Array(6).fill('layer'),
    ]);
  });

  it("--target next --position 0,-2 --json gives each layer the actual next token's probability", async () => {
    const { command, comment } = line(
      'pythia lens --text "The Eiffel Tower is in Paris" --target next --position 0,-2 --json',
    );
    expect(comment).toBe('p(actual next token) per layer');
    const run = await bash(command);
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    const T = out.ids.length;
    expect(out.positions).toEqual([0, T - 2]);
    expect(out.layers).toHaveLength(7);
    for (const layer of out.layers) {
      expect(layer.chosen.map((c: { id: number }) => c.id)).toEqual([out.ids[1], out.ids[T - 1]]);
      for (const c of layer.chosen) {
        expect(c.prob).toBeCloseTo(Math.exp(c.logprob), 6);
        expect(Number.isInteger(c.rank)).toBe(true);
      }
    }
  });
});

describe("the README's sweep line with the logit lens, run as written", () => {
  it('--lens-token " Paris" adds a table of p(" Paris") per checkpoint and layer', async () => {
    const run = await bash(
      line(
        'pythia sweep --model pythia-70m-deduped --revisions step1000,step143000 --prompt "The capital of France is" --lens-token " Paris"',
      ).command,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const [sweep, lens] = run.stdout.trimEnd().split('\n\n');
    expect(sweep!.split('\n').map((l) => l.split(' ')[0])).toEqual([
      'revision',
      'step1000',
      'step143000',
    ]);
    const lines = lens!.split('\n');
    expect(lines[0]).toBe('position 4, after " is": p(" Paris") by layer');
    // The embedding, then each of the 6 layers: a probability per checkpoint.
    expect(lines[1]).toMatch(/^revision +embed +L0 +L1 +L2 +L3 +L4 +L5$/);
    for (const [i, revision] of ['step1000', 'step143000'].entries()) {
      const [name, ...cells] = lines[2 + i]!.split(/ +/);
      expect(name).toBe(revision);
      expect(cells).toHaveLength(7);
      for (const cell of cells) expect(cell).toMatch(/^(\d\.\d{3}|\d\.\de-\d+)$/);
    }
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

/**
 * The eval section's first line, on the stand-in's pythia-70m-deduped and its datasets of a few
 * rows (so --limit 200 takes them all): the JSON its comment promises. The other lines need real
 * checkpoints, a cluster or files; eval.test.ts runs each of their kinds.
 */
async function evaluatesTwoTasks() {
  const { command, comment } = line(
    'pythia eval piqa arc_easy --model pythia-70m-deduped@step3000 --limit 200',
  );
  expect(comment).toBe(
    '{"results": {"piqa": {"acc": ..., "acc_stderr": ..., "acc_norm": ..., "acc_norm_stderr": ...}, ...}, "versions": ..., "config": ..., "pythiajs": ...}',
  );
  const run = await bash(command);
  expect(run.code, run.stderr).toBe(0);
  const json = JSON.parse(run.stdout);
  expect(Object.keys(json)).toEqual(['results', 'versions', 'config', 'pythiajs']);
  expect(Object.keys(json.results)).toEqual(['piqa', 'arc_easy']);
  expect(Object.keys(json.results.piqa)).toEqual([
    'acc',
    'acc_stderr',
    'acc_norm',
    'acc_norm_stderr',
  ]);
  expect(json.config).toMatchObject({
    model_args: 'pretrained=EleutherAI/pythia-70m-deduped,revision=step3000',
    limit: 200,
  });
}

describe('every block of the README is run or says why not', () => {
  checkReadmeBlocks(README, {
    0: {
      language: 'bash',
      skip: 'npm install is not run; its pythia generate line runs in "the README\'s commands" above',
    },
    1: {
      language: 'bash',
      skip: 'a 24 GB machine without a GPU; memory-check.test.ts checks the form of both messages',
    },
    2: {
      language: 'bash',
      skip: 'most lines need real Pythia checkpoints or files; those with a checked output run above',
    },
    3: {
      language: 'bash',
      name: 'writes activations that the file read back holds, as its comments say',
      test: writesActivations,
    },
    4: {
      language: 'bash',
      name: 'benches a batch and prints the fields its comment names',
      test: benchesABatch,
    },
    5: {
      language: 'bash',
      name: 'evaluates two tasks on one checkpoint and prints the JSON its comment shows',
      test: evaluatesTwoTasks,
    },
    6: { language: '', skip: "Dawn's own stderr lines, not a command" },
  });
});
