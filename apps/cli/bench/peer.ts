// Dev-only (run with tsx, never imported by src/): the peer of `pythia bench`, ONNX Runtime's
// WebGPU execution provider (onnxruntime-node, its own Dawn) on the same adapter and the same
// random weights, from the scripts in ../shared/peer (see its README.md). The peer is installed
// once into node_modules/.cache/pythia-peer/ (git ignores it) and each (size, seed, dtype) export
// is cached there, so only the first run pays for npm and the ONNX export.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pythiaConfig, randomCheckpoint } from '@pythiajs/neox-model';
import { safetensorsOf } from '@pythiajs/vitest-config/safetensors';

export interface PeerResult {
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
  first_token_ms: number;
  /** The ONNX export's dtype: `fp16`, or `fp32` when fp16 failed to export or run. */
  dtype: string;
  onnx_bytes: number;
}

export interface PeerOptions {
  /** A Pythia model name or size: `pythia-70m`, `160m` … */
  size: string;
  promptTokens: number;
  decode: number;
  /** The random weights' seed; 0 (the default) is `pythia bench --random`'s. */
  seed?: number;
  /** Limit of each child process (npm install, export, bench run); default 10 minutes. */
  timeoutMs?: number;
  /** Progress lines (installing, exporting, running); silent by default. */
  log?: (line: string) => void;
}

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CACHE = join(REPO, 'node_modules', '.cache', 'pythia-peer');

class Timeout extends Error {}

export async function peerBench(options: PeerOptions): Promise<PeerResult | { skipped: string }> {
  const seed = options.seed ?? 0;
  const timeoutMs = options.timeoutMs ?? 600_000;
  const log = options.log ?? (() => {});
  const peerDir = resolve(process.env.PYTHIA_PEER_DIR ?? join(REPO, '..', 'shared', 'peer'));
  if (!existsSync(join(peerDir, 'package.json')))
    return { skipped: `no peer folder at ${peerDir}` };
  try {
    await installPeer(peerDir, timeoutMs, log);
  } catch (error) {
    return { skipped: `installing the peer failed: ${message(error)}` };
  }
  const config = pythiaConfig(options.size);
  const name = options.size.startsWith('pythia-') ? options.size : `pythia-${options.size}`;
  // Exports depend on the exporter too: a changed export.mjs exports afresh.
  const exporter = createHash('sha256')
    .update(await readFile(join(CACHE, 'export.mjs')))
    .digest('hex')
    .slice(0, 8);
  let checkpoint: string | undefined;
  const failures: string[] = [];
  try {
    for (const dtype of ['fp16', 'fp32']) {
      try {
        const out = join(CACHE, 'exports', `${name}-seed${seed}-${dtype}-${exporter}`);
        const model = join(out, 'onnx', dtype === 'fp16' ? 'model_fp16.onnx' : 'model.onnx');
        if (!existsSync(model)) {
          if (!checkpoint) {
            log(`writing random ${name} (seed ${seed}, F16) as safetensors`);
            checkpoint = await mkdtemp(join(tmpdir(), 'pythia-peer-ckpt-'));
            const ckpt = randomCheckpoint(config, { seed, dtype: 'F16' });
            await writeFile(join(checkpoint, 'config.json'), JSON.stringify(ckpt.config));
            await writeFile(join(checkpoint, 'model.safetensors'), await safetensorsOf(ckpt));
          }
          log(`exporting ${name} to ONNX (${dtype})`);
          const stage = `${out}.tmp-${process.pid}`;
          await rm(stage, { recursive: true, force: true });
          try {
            await run(
              process.execPath,
              ['export.mjs', checkpoint, stage, '--variant', 'std', '--dtype', dtype],
              { cwd: CACHE, timeoutMs },
            );
            await rm(out, { recursive: true, force: true });
            await rename(stage, out);
          } finally {
            await rm(stage, { recursive: true, force: true });
          }
        }
        log(`running the peer on ${name} (${dtype}, webgpu)`);
        const stdout = await run(
          process.execPath,
          [
            'ort_bench.mjs',
            model,
            '--ep',
            'webgpu',
            '--prefill',
            String(options.promptTokens),
            '--decode',
            String(options.decode),
          ],
          { cwd: CACHE, timeoutMs },
        );
        const line = stdout
          .split('\n')
          .reverse()
          .find((l) => l.startsWith('{'));
        if (!line) throw new Error(`no JSON line in its output: ${tail(stdout)}`);
        const r = JSON.parse(line) as Record<string, unknown>;
        const figure = (key: string) => {
          const v = r[key];
          if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
            throw new Error(`${key} is ${JSON.stringify(v)} in ${line}`);
          return v;
        };
        return {
          prefill_tokens_per_s: figure('prefill_tokens_per_s'),
          decode_tokens_per_s: figure('decode_tokens_per_s'),
          first_token_ms: figure('first_token_ms'),
          dtype,
          onnx_bytes: (await stat(model)).size,
        };
      } catch (error) {
        failures.push(`${dtype}: ${message(error)}`);
        // fp32 is slower still: after a timeout, falling back would only wait longer.
        if (error instanceof Timeout) break;
        log(`the peer failed in ${dtype}: ${message(error)}`);
      }
    }
  } finally {
    if (checkpoint) await rm(checkpoint, { recursive: true, force: true });
  }
  return { skipped: `the peer failed (${failures.join('; ')})` };
}

/** The peer's package.json and scripts in CACHE, its dependencies installed (once). */
async function installPeer(peerDir: string, timeoutMs: number, log: (line: string) => void) {
  const pkg = await readFile(join(peerDir, 'package.json'), 'utf8');
  const current =
    existsSync(join(CACHE, 'node_modules', 'onnxruntime-node')) &&
    (await readFile(join(CACHE, 'package.json'), 'utf8').catch(() => '')) === pkg;
  if (!current) {
    log(`installing the peer into ${CACHE} (npm install)`);
    const stage = `${CACHE}.tmp-${process.pid}`;
    await rm(stage, { recursive: true, force: true });
    await mkdir(stage, { recursive: true });
    try {
      await writeFile(join(stage, 'package.json'), pkg);
      // The binding's install script would otherwise fetch GPU binaries from outside the registry.
      await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
        cwd: stage,
        timeoutMs,
        env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
      });
      await rm(CACHE, { recursive: true, force: true });
      await rename(stage, CACHE);
    } finally {
      await rm(stage, { recursive: true, force: true });
    }
  }
  for (const file of await readdir(peerDir)) {
    if (file.endsWith('.mjs')) await copyFile(join(peerDir, file), join(CACHE, file));
  }
}

/** A child process's stdout; rejects with the tail of its stderr when it fails. */
function run(
  command: string,
  args: string[],
  options: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<string> {
  return new Promise((done, fail) => {
    execFile(
      command,
      args,
      { ...options, timeout: options.timeoutMs, maxBuffer: 64 << 20, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        if (!error) return done(stdout);
        const what = `${command === process.execPath ? 'node' : command} ${args[0]}`;
        if (error.killed && error.signal === 'SIGKILL')
          return fail(new Timeout(`${what} ran past ${options.timeoutMs / 1000} s`));
        fail(new Error(`${what} exited ${error.code ?? error.signal}: ${tail(stderr || stdout)}`));
      },
    );
  });
}

/** The gist of a child's output: its first lines that say "error", else its last lines. */
function tail(text: string): string {
  const lines = text.trim().split('\n');
  const errors = lines.filter((l) => /error/i.test(l));
  return (errors.length > 0 ? errors.slice(0, 3) : lines.slice(-3)).join(' | ').slice(0, 500);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
