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
  // The windows: 14 input ids for " store it in the sun." after its context, scored by the last 6 rows.
  expect(run.printed[1]).toBe('14[4657, 352, 275, 253, 5101, 15][8, 9, 10, 11, 12, 13]');
  expect(run.printed[3]).toBe('{acc: 0.5, acc_stderr: 0.5, acc_norm: 1, acc_norm_stderr: 0}');
}

/**
 * The API block declares signatures, not code to run. Each one it declares is compiled against
 * the package's published types: the real export must be assignable to what the README says
 * (so the README may leave members out, but never shows one that is missing or typed otherwise).
 */
async function matchesThePublishedTypes(block: ReadmeBlock) {
  const functions = [...block.code.matchAll(/^function (\w+)/gm)].map((m) => m[1]!);
  const types = [...block.code.matchAll(/^(?:interface|type) (\w+)/gm)].map((m) => m[1]!);
  // A generic type is checked at `unknown` for each of its parameters.
  const args = new Map(
    [...block.code.matchAll(/^(?:interface|type) (\w+)(?:<([^>]*)>)?/gm)].map((m) => [
      m[1]!,
      m[2]
        ? `<${m[2]
            .split(',')
            .map(() => 'unknown')
            .join(', ')}>`
        : '',
    ]),
  );
  // Types the block uses without declaring them come from the package, as in a user's code.
  const published = new Set(
    readFileSync(new URL('../dist/index.d.ts', import.meta.url), 'utf8').match(/\w+/g),
  );
  const used = new Set(block.code.match(/\b[A-Z]\w*/g));
  const given = [...used].filter((name) => published.has(name) && !types.includes(name));
  expect(functions.length + types.length).toBeGreaterThan(0);
  const program = [
    "import * as real from '@pythiajs/evals';",
    "import type * as pkg from '@pythiajs/evals';",
    'declare namespace readme {',
    ...given.map((name) => `  type ${name} = pkg.${name};`),
    block.code,
    '}',
    ...functions.map((name) => `export const ${name}: typeof readme.${name} = real.${name};`),
    ...types.map(
      (name) => `export const ${name}Type = null as unknown as pkg.${name}${args.get(name)};`,
    ),
    ...types.map(
      (name) => `export const ${name}Check: readme.${name}${args.get(name)} = ${name}Type;`,
    ),
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
