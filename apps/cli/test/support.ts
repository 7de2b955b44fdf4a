import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FakeCommit } from '@pythiajs/checkpoint-hub/testing';

/** The built `pythia` bin. */
export const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

/** The repository's root, where `pnpm pythia` runs. */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export const fixtureFolder = (name: string) =>
  fileURLToPath(new URL(`../../../fixtures/${name}`, import.meta.url));

/** One case of a fixture's golden.json (float64 reference, see fixtures/README.md). */
export interface GoldenCase {
  text: string | null;
  ids: number[];
  logits_last: number[];
  logits_head: number[][];
  greedy: number[];
}

export function golden(name: string): GoldenCase[] {
  return JSON.parse(readFileSync(join(fixtureFolder(name), 'golden.json'), 'utf8')).cases;
}

/** A fixture checkpoint as the files of a Hub commit (without its golden.json). */
export function fixtureCommit(name: string): FakeCommit {
  const commit: FakeCommit = {};
  for (const file of readdirSync(fixtureFolder(name))) {
    if (file !== 'golden.json') commit[file] = readFileSync(join(fixtureFolder(name), file));
  }
  return commit;
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program to its end with an environment of its own: the test run's, less npm's and pnpm's
 * variables (`npm_*`, `pnpm_*`, `INIT_CWD`, which change how `pnpm` behaves), with `NO_COLOR=1`
 * and `env` on top (`undefined` removes a variable). Asynchronous, so that a Hub stand-in served
 * by this test process keeps answering while it runs.
 */
export function runProcess(
  command: string,
  args: string[],
  options: { cwd?: string; input?: string; env?: Record<string, string | undefined> } = {},
): Promise<Run> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(npm_|pnpm_|INIT_CWD$)/i.test(key)) env[key] = value;
  }
  for (const [key, value] of Object.entries({ NO_COLOR: '1', ...options.env })) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/**
 * The environment that points the CLI at a Hub stand-in (`hubOrigin`) with a cache of its own,
 * online and without a token, whatever the test run's own environment says.
 */
export function hubEnv(hubOrigin: string, cache: string): Record<string, string | undefined> {
  return {
    HF_ENDPOINT: hubOrigin,
    HF_HUB_CACHE: cache,
    HF_HUB_OFFLINE: undefined,
    HF_TOKEN: undefined,
  };
}

/** Runs the built `pythia` bin as a user would (see {@link runProcess}). */
export function pythia(
  args: string[],
  options: { input?: string; env?: Record<string, string | undefined> } = {},
): Promise<Run> {
  return runProcess(process.execPath, [bin, ...args], options);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** The model tests' tolerance: max |Δlogit| ≤ 2e-3 × max(1, max |logit|). */
export function logitTolerance(reference: ArrayLike<number>): number {
  let max = 1;
  for (let i = 0; i < reference.length; i++) max = Math.max(max, Math.abs(reference[i]!));
  return 2e-3 * max;
}
