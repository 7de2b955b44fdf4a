// The largest Pythia shapes, quantized on load from a checkpoint on disk, within a memory bound
// (`pnpm bench:large`, or `tsx bench/large-shapes.ts --size 12b --dtype q4`). Not part of
// `pnpm bench`: it writes a checkpoint of the model's full f16 size (24 GB at 12b, 14 GB at 6.9b)
// to a temporary folder and takes 20–40 minutes on a software adapter.
//
// 1. Writes a checkpoint with the real shapes of pythia-<size> and random f16 weights to a
//    temporary folder, with a next-token rule planted in its embeddings so that greedy choices are
//    decisive (bench/checkpoint-folder.ts says why), sharded as the Hub's are.
// 2. In a child process (so that its peak resident memory is the loader's alone): loads it with
//    `NeoXModel.load({ folder }, { dtype })`, prefills a short prompt and decodes greedily, then
//    reports its peak RSS (the kernel's VmHWM: on a software adapter the "GPU" buffers are in it
//    too) and the logits of every decoded position.
// 3. Runs a float64 CPU reference (test/reference-forward.ts, reading one block at a time) on the
//    prompt and the decoded tokens, as f32 weights, i.e. the checkpoint's exact values.
// 4. Checks that the peak RSS is under `--rss-limit` GB (default 12) and that at every decoded
//    position the reference's greedy choice is the token the quantized model chose; prints
//    max and mean |Δlogit|, KL(reference ‖ quantized) and the reference's top-1 margin. Exits 1
//    when a check fails. The folder is removed at the end unless `--dir` named it or `--keep`.
//
// Options: --size 12b|6.9b|…  --dtype q4|q8|f16  --dir FOLDER (reuse or keep a checkpoint there)
//          --keep  --prompt N (8)  --steps N (8)  --rss-limit GB (12)
//          --cache: load through `quantizedCache` (in a temporary folder, the checkpoint posing
//          as a Hub commit), then again from it in a second process, which must decode the same
//          logits bit for bit; both load times and peak RSS are reported
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { openCheckpoint } from '@pythiajs/checkpoint-hub';
import { LocalFolderStore, nodeDerivedStore } from '@pythiajs/checkpoint-hub/node';
import { argmax } from '@pythiajs/sampler';
import { estimateMemory, NeoXModel, pythiaConfig, type WeightDtype } from '../src/index.js';
import { ReferenceNeoX } from '../test/reference-forward.js';
import { planted, TOKENIZER_IDS, writeCheckpointFolder } from './checkpoint-folder.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) =>
  args.includes(name) ? args[args.indexOf(name) + 1]! : fallback;
const size = option('--size', '12b').replace(/^pythia-/, '');
const dtype = option('--dtype', 'q4') as WeightDtype;
const PROMPT = Number(option('--prompt', '8'));
const STEPS = Number(option('--steps', '8'));
const RSS_LIMIT_GB = Number(option('--rss-limit', '12'));
// The decode processes are given the quantized cache's folder by the main one.
const cacheDir = option('--cache-dir', '');
const round = (x: number, digits = 1) => Number(x.toFixed(digits));
const gb = (bytes: number) => round(bytes / 1e9, 2);

/** The kernel's record of this process's peak resident memory, in bytes. */
function peakRss(): number {
  const line = readFileSync('/proc/self/status', 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
  if (!line) throw new Error('no VmHWM in /proc/self/status (this bench measures memory on Linux)');
  return Number(line[1]) * 1024;
}

/** A prompt of distinct ids the tokenizer produces. */
const promptIds = (n: number) =>
  Array.from({ length: n }, (_, i) => (i * 6151 + 1129) % TOKENIZER_IDS);

interface DecodeResult {
  tokens: number[];
  peak_rss_bytes: number;
  rss_after_load_bytes: number;
  weight_bytes: number;
  load_s: number;
  ms_per_token: number;
}

/** Phase 2, in the child: load, prefill, decode; the logits of each decoded position to `out`. */
async function decodePhase(folder: string, out: string): Promise<void> {
  const start = performance.now();
  let model: NeoXModel;
  if (cacheDir) {
    // The folder stands for a Hub revision (a local folder has no commit to key the cache by).
    const opened = await openCheckpoint(folder, 'local', new LocalFolderStore());
    try {
      model = await NeoXModel.fromCheckpoint(
        { ...opened, repo: `bench/pythia-${size}`, commit: 'b'.repeat(40) },
        {
          dtype,
          quantizedCache: nodeDerivedStore(cacheDir),
          onProgress: (p) => {
            if (p.phase === 'quantized-cache') console.log(`  quantized cache: ${p.action}`);
          },
        },
      );
    } finally {
      await opened.close();
    }
  } else model = await NeoXModel.load({ folder }, { dtype });
  const loadS = (performance.now() - start) / 1000;
  const rssAfterLoad = process.memoryUsage().rss;
  const vocab = model.config.vocabSize;
  const logits = new Float32Array(STEPS * vocab);
  const tokens: number[] = [];
  const cache = model.createCache(PROMPT + STEPS);
  let last = await model.forward(promptIds(PROMPT), { cache, logits: 'last' });
  const decodeStart = performance.now();
  for (let s = 0; s < STEPS; s++) {
    logits.set(last, s * vocab);
    tokens.push(argmax(last));
    if (s < STEPS - 1) last = await model.forward([tokens[s]!], { cache, logits: 'last' });
  }
  const msPerToken = (performance.now() - decodeStart) / (STEPS - 1);
  const result: DecodeResult = {
    tokens,
    peak_rss_bytes: peakRss(),
    rss_after_load_bytes: rssAfterLoad,
    weight_bytes: model.weights.bytes,
    load_s: round(loadS),
    ms_per_token: round(msPerToken),
  };
  cache.dispose();
  model.dispose();
  await writeFile(`${out}.f32`, new Uint8Array(logits.buffer));
  await writeFile(`${out}.json`, JSON.stringify(result));
}

/** KL(p ‖ q) in nats of two logit rows, in float64. */
function kl(p: ArrayLike<number>, q: ArrayLike<number>): number {
  const logSumExp = (x: ArrayLike<number>) => {
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < x.length; i++) max = Math.max(max, x[i]!);
    let sum = 0;
    for (let i = 0; i < x.length; i++) sum += Math.exp(x[i]! - max);
    return max + Math.log(sum);
  };
  const lp = logSumExp(p);
  const lq = logSumExp(q);
  let total = 0;
  for (let i = 0; i < p.length; i++) {
    const logP = p[i]! - lp;
    total += Math.exp(logP) * (logP - (q[i]! - lq));
  }
  return total;
}

async function main(): Promise<void> {
  const config = pythiaConfig(size);
  const label = `pythia-${size}`;
  const given = option('--dir', '');
  const folder = given || (await mkdtemp(join(tmpdir(), `pythiajs-${label}-`)));
  const keep = Boolean(given) || args.includes('--keep');
  try {
    if (!existsSync(join(folder, 'model.safetensors.index.json'))) {
      const start = performance.now();
      console.log(
        `writing a random ${label} checkpoint (f16, planted next-token rule) to ${folder}`,
      );
      const bytes = await writeCheckpointFolder(folder, config, {
        onTensor: (name, i, n) => {
          if (i % 50 === 0 || i === n) console.log(`  ${i}/${n} tensors (${name})`);
        },
      });
      console.log(`  ${gb(bytes)} GB in ${round((performance.now() - start) / 1000)} s`);
    }
    const out = join(folder, `..`, `${label}-${dtype}-decode`);
    const estimate = estimateMemory(config, { dtype, contextLength: PROMPT + STEPS });
    console.log(
      `loading at ${dtype} in a child process (estimated GPU memory ${gb(estimate.total)} GB) and decoding ${STEPS} tokens after a ${PROMPT}-token prompt`,
    );
    const quantizedCache = args.includes('--cache')
      ? await mkdtemp(join(tmpdir(), 'pythiajs-quantized-'))
      : undefined;
    const decode = async () => {
      const args2 = ['--phase', 'decode', '--folder', folder, '--out', out];
      if (quantizedCache) args2.push('--cache-dir', quantizedCache);
      const child = spawnSync(
        process.execPath,
        [...process.execArgv, fileURLToPath(import.meta.url), ...args, ...args2],
        { stdio: 'inherit' },
      );
      if (child.status !== 0)
        throw new Error(`the decode process failed (exit ${child.status ?? child.signal})`);
      const result: DecodeResult = JSON.parse(await readFile(`${out}.json`, 'utf8'));
      const bytes = await readFile(`${out}.f32`);
      await rm(`${out}.json`);
      await rm(`${out}.f32`);
      const logits = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      return { result, logits };
    };
    const { result: decoded, logits } = await decode();
    // With --cache: the first load kept the quantized matrices there; a second process loads
    // them back (no conversion) and must decode the same logits, bit for bit.
    let cached: DecodeResult | undefined;
    if (quantizedCache) {
      try {
        console.log('loading again, from the quantized cache');
        const again = await decode();
        cached = again.result;
        const same = again.logits.every((v, i) => Object.is(v, logits[i]));
        if (!same || cached.tokens.join() !== decoded.tokens.join())
          throw new Error('the load from the quantized cache decoded other logits than the first');
      } finally {
        await rm(quantizedCache, { recursive: true, force: true });
      }
    }

    console.log('float64 reference on the CPU, one block at a time');
    const refStart = performance.now();
    const prompt = promptIds(PROMPT);
    const ids = [...prompt, ...decoded.tokens.slice(0, -1)];
    const vocab = config.vocabSize;
    const reference = await ReferenceNeoX.streamedLogits(folder, ids);
    const refS = (performance.now() - refStart) / 1000;

    let maxDiff = 0;
    let sumDiff = 0;
    let maxKl = 0;
    let sumKl = 0;
    let agree = 0;
    let minMargin = Number.POSITIVE_INFINITY;
    const rows: string[] = [];
    for (let s = 0; s < STEPS; s++) {
      const ref = reference.subarray((PROMPT - 1 + s) * vocab, (PROMPT + s) * vocab);
      const got = logits.subarray(s * vocab, (s + 1) * vocab);
      const refTop = argmax(ref);
      let second = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < vocab; i++) if (i !== refTop) second = Math.max(second, ref[i]!);
      const margin = ref[refTop]! - second;
      minMargin = Math.min(minMargin, margin);
      for (let i = 0; i < vocab; i++) {
        const diff = Math.abs(ref[i]! - got[i]!);
        maxDiff = Math.max(maxDiff, diff);
        sumDiff += diff;
      }
      const k = kl(ref, got);
      maxKl = Math.max(maxKl, k);
      sumKl += k;
      if (refTop === decoded.tokens[s]) agree++;
      const input = ids[PROMPT - 1 + s]!;
      rows.push(
        `  position ${PROMPT - 1 + s}: input ${input}, planted ${planted(input)}, f32 ${refTop} (margin ${round(margin, 2)}), ${dtype} ${decoded.tokens[s]}, KL ${k.toExponential(1)}`,
      );
    }
    console.log(rows.join('\n'));
    const result = {
      model: label,
      dtype,
      checkpoint_gb: gb(estimateMemory(config, { dtype: 'f16' }).weights),
      weight_gb: gb(decoded.weight_bytes),
      peak_rss_gb: gb(decoded.peak_rss_bytes),
      rss_after_load_gb: gb(decoded.rss_after_load_bytes),
      rss_limit_gb: RSS_LIMIT_GB,
      load_s: decoded.load_s,
      ...(cached
        ? { cached_load_s: cached.load_s, cached_peak_rss_gb: gb(cached.peak_rss_bytes) }
        : {}),
      ms_per_token: decoded.ms_per_token,
      reference_s: round(refS),
      greedy_agreement: `${agree}/${STEPS}`,
      max_abs_dlogit: round(maxDiff, 3),
      mean_abs_dlogit: Number((sumDiff / (STEPS * vocab)).toPrecision(2)),
      mean_kl: Number((sumKl / STEPS).toPrecision(2)),
      max_kl: Number(maxKl.toPrecision(2)),
      min_top1_margin: round(minMargin, 2),
    };
    console.log(JSON.stringify(result));
    const failures = [
      ...[decoded, ...(cached ? [cached] : [])]
        .filter((d) => d.peak_rss_bytes > RSS_LIMIT_GB * 1e9)
        .map((d) => `peak RSS ${gb(d.peak_rss_bytes)} GB is over ${RSS_LIMIT_GB} GB`),
      ...(agree < STEPS ? [`greedy choices agree at ${agree} of ${STEPS} positions`] : []),
    ];
    if (failures.length > 0) {
      console.error(`FAILED: ${failures.join('; ')}`);
      process.exitCode = 1;
    } else
      console.log(
        `passed: peak RSS under ${RSS_LIMIT_GB} GB, every greedy choice the f32 reference's`,
      );
  } finally {
    if (!keep) await rm(folder, { recursive: true, force: true });
  }
}

if (args.includes('--phase')) await decodePhase(option('--folder', ''), option('--out', ''));
else await main();
