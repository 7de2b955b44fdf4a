import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkReadmeBlocks,
  type ReadmeBlock,
  runReadmeExample,
} from '@pythiajs/vitest-config/readme-example';
import { afterAll, beforeAll, expect } from 'vitest';
import { servePythia70m } from './local-hub.js';

let hub: Awaited<ReturnType<typeof servePythia70m>>;
beforeAll(async () => {
  hub = await servePythia70m();
});
afterAll(async () => {
  await hub?.stop();
});

const README = new URL('../README.md', import.meta.url);

async function runsTheExample(block: ReadmeBlock) {
  const run = await runReadmeExample(README, {
    block: block.index,
    env: hub.env,
  });
  expect(run.exitCode).toBe(0);
  expect(run.printed).toEqual(run.promised);
  expect(run.printed).toEqual(['[8, 6, 6]']);
  // The download reported its progress up to the last byte; the continuation went to stdout.
  const [loaded, total] = run.stderr.match(/(\d+) \/ (\d+) bytes\n$/)?.slice(1) ?? [];
  expect(loaded).toBe(total);
  expect(run.stdout.length).toBeGreaterThan(0);
}

async function keepsTheQuantizedWeights(block: ReadmeBlock) {
  const kept = mkdtempSync(join(tmpdir(), 'readme-quantized-'));
  try {
    const run = await runReadmeExample(README, {
      block: block.index,
      env: { ...hub.env, PYTHIAJS_CACHE: kept },
    });
    expect(run.exitCode).toBe(0);
    expect(run.printed).toEqual(run.promised);
    expect(run.printed).toEqual(['written', 'read']);
    expect(
      readdirSync(
        join(kept, 'quantized', 'v1', 'EleutherAI', 'pythia-70m-deduped', '3'.repeat(40)),
      ),
    ).toEqual(['q4.safetensors']);
  } finally {
    rmSync(kept, { recursive: true, force: true });
  }
}

async function runsTheScoringExample(block: ReadmeBlock) {
  const run = await runReadmeExample(README, { block: block.index, env: hub.env });
  expect(run.exitCode).toBe(0);
  expect(run.printed).toEqual(run.promised);
  expect(run.printed).toEqual(['3 true']);
  expect(run.logs.at(-1)?.text).toMatch(/^best: ( Paris| Rome| a city on the Seine)$/);
}

checkReadmeBlocks(README, {
  0: { language: 'bash', skip: 'the install command' },
  1: {
    language: 'js',
    name: "runs against a local Hub on the machine's adapter",
    test: runsTheExample,
  },
  2: {
    language: 'js',
    name: 'keeps the q4 weights on the first load and reads them on the second',
    test: keepsTheQuantizedWeights,
  },
  3: {
    language: 'js',
    name: 'scores a multiple-choice question against the local Hub',
    test: runsTheScoringExample,
  },
});
