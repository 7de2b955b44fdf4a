import { readFileSync } from 'node:fs';
import {
  checkReadmeBlocks,
  type ReadmeBlock,
  runReadmeExample,
  typecheckSources,
} from '@pythiajs/vitest-config/readme-example';
import { expect } from 'vitest';

const README = new URL('../README.md', import.meta.url);

async function runsTheExample(block: ReadmeBlock) {
  const run = await runReadmeExample(README, { block: block.index });
  expect(run.stderr).toBe('');
  expect(run.exitCode).toBe(0);
  expect(run.printed).toEqual(run.promised);
  // Greedy takes id 1 (logit 3) with the log-softmax 3 − log(e¹ + e³ + e² + e^0.5) ≈ −0.46077.
  const greedy = /^\{id: (\d+), logprob: (\S+)\}$/.exec(run.printed[0]!);
  expect(Number(greedy?.[1])).toBe(1);
  const logprob = 3 - Math.log(Math.exp(1) + Math.exp(3) + Math.exp(2) + Math.exp(0.5));
  expect(Number(greedy?.[2])).toBeCloseTo(logprob, 12);
  expect(run.printed[2]).toBe('[1, 1, 3, 1, 0]');
}

/**
 * The API block declares signatures, not code to run. Each one it declares is compiled against
 * the package's published types: the real export must be assignable to what the README says
 * (so the README may leave members out, but never shows one that is missing or typed otherwise).
 */
async function matchesThePublishedTypes(block: ReadmeBlock) {
  const functions = [...block.code.matchAll(/^function (\w+)/gm)].map((m) => m[1]!);
  const types = [...block.code.matchAll(/^(?:interface|type) (\w+)/gm)].map((m) => m[1]!);
  // Types the block uses without declaring them come from the package, as in a user's code.
  const published = new Set(
    readFileSync(new URL('../dist/index.d.ts', import.meta.url), 'utf8').match(/\w+/g),
  );
  const used = new Set(block.code.match(/\b[A-Z]\w*/g));
  const given = [...used].filter((name) => published.has(name) && !types.includes(name));
  expect(functions.length + types.length).toBeGreaterThan(0);
  const program = [
    "import * as real from '@pythiajs/sampler';",
    "import type * as pkg from '@pythiajs/sampler';",
    'declare namespace readme {',
    ...given.map((name) => `  type ${name} = pkg.${name};`),
    block.code,
    '}',
    ...functions.map((name) => `export const ${name}: typeof readme.${name} = real.${name};`),
    ...types.map((name) => `export const ${name}Type = null as unknown as pkg.${name};`),
    ...types.map((name) => `export const ${name}Check: readme.${name} = ${name}Type;`),
  ].join('\n');
  expect(
    await typecheckSources(new URL('..', import.meta.url), { 'readme-api.ts': program }),
  ).toEqual([]);
}

checkReadmeBlocks(README, {
  0: { language: 'bash', skip: 'the install command' },
  1: { language: 'js', name: 'runs and prints what its comments say', test: runsTheExample },
  2: {
    language: 'ts',
    name: "declares signatures the package's published types satisfy (tsc)",
    test: matchesThePublishedTypes,
  },
});
