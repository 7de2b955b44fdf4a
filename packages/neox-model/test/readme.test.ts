import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeHub } from '@pythiajs/checkpoint-hub/testing';
import {
  checkReadmeBlocks,
  type ReadmeBlock,
  runReadmeExample,
} from '@pythiajs/vitest-config/readme-example';
import { safetensorsOf } from '@pythiajs/vitest-config/safetensors';
import { afterAll, beforeAll, expect } from 'vitest';
import { parseNeoXConfig, randomCheckpoint } from '../src/index.js';

// What the example loads, pythia-70m-deduped@step3000, with pythia-70m's 6 layers, 8 heads and
// real vocabulary but a width of 64 (random weights), so that it loads in moments on lavapipe.
const COMMIT = '3'.repeat(40);
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

let hub: FakeHub;
const cache = mkdtempSync(join(tmpdir(), 'readme-model-cache-'));
beforeAll(async () => {
  hub = await new FakeHub({
    'EleutherAI/pythia-70m-deduped': {
      branches: { step3000: COMMIT },
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
  rmSync(cache, { recursive: true, force: true });
});

const README = new URL('../README.md', import.meta.url);

async function runsTheExample(block: ReadmeBlock) {
  const run = await runReadmeExample(README, {
    block: block.index,
    env: { HF_ENDPOINT: hub.hubOrigin, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: undefined },
  });
  expect(run.exitCode).toBe(0);
  expect(run.printed).toEqual(run.promised);
  expect(run.printed).toEqual(['[8, 6, 6]']);
  // The download reported its progress up to the last byte; the continuation went to stdout.
  const [loaded, total] = run.stderr.match(/(\d+) \/ (\d+) bytes\n$/)?.slice(1) ?? [];
  expect(loaded).toBe(total);
  expect(run.stdout.length).toBeGreaterThan(0);
}

checkReadmeBlocks(README, {
  0: { language: 'bash', skip: 'the install command' },
  1: {
    language: 'js',
    name: "runs against a local Hub on the machine's adapter",
    test: runsTheExample,
  },
});
