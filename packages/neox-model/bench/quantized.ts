// The quantized-weights benchmark (`pnpm bench`, or `tsx bench/quantized.ts`): what `dtype: 'q8'`
// and `'q4'` cost and save, against f16 and f32, measured in one run on random weights at real
// Pythia shapes. Two parts, each printing a table and one JSON line:
//
// a. Decode speed per dtype (f16, q8, q4) at the pythia-410m and pythia-1.4b shapes (`--quick`:
//    410m only): the weights' GPU bytes, the bytes a decode step reads (every matrix once, one row
//    of `embed_in`), greedy decode tok/s at batch 1 after a 16-token prompt (a warm-up run first;
//    as many steps, at most 16, as fit `--step-budget` seconds, default 8, at the warm-up's rate),
//    the fraction of the adapter's read bandwidth that is (tok/s × bytes read / bandwidth) and each
//    dtype's tok/s over f16's.
// b. Fidelity per dtype at the pythia-160m shape (`--fidelity 1.4b` or `6.9b` for another): q8 and
//    q4 against a reference model of the same weights, f32 (exact for f16 weights) when it fits in
//    memory, else f16 (said so; the kernels widen f16 weights to f32 and sum as for f32 ones: at
//    160m the two models' logits are bit-identical). Two checkpoints: the random weights, and the same with outlier
//    input channels (4 columns of every block matrix scaled ×20, ×30, ×40, ×50, as trained LLMs
//    show outlier feature dimensions). Over `--sequences` (default 8; `--quick` 4) × `--length`
//    (256) deterministic pseudo-random ids: max and mean |Δlogit|, mean and max
//    KL(reference ‖ quantized) of the next-token distribution over all 50304 logits (nats), top-1
//    agreement. The reference's logits of every position are held (8 × 256 × 50304 × 4 B = 412 MB);
//    each quantized model's are compared a sequence at a time on the CPU, in float64. "RSS freed"
//    is the process's resident memory after the reference model was freed / after this one: on a
//    software adapter, whether a disposed model's memory came back before the next one loads.
//
// `--decode-only` and `--fidelity-only` run one part. Weights too large to hold in memory (6.9b)
// are written to a temporary folder once and read from there (`--on-disk` does so at any size).
// `--no-outliers` measures the random weights only, `--outliers-only` those with outliers only.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Checkpoint, openCheckpoint } from '@pythiajs/checkpoint-hub';
import { LocalFolderStore } from '@pythiajs/checkpoint-hub/node';
import { argmax } from '@pythiajs/sampler';
import { createDevice, type Device, measureReadBandwidth } from '@pythiajs/tensor-core';
import {
  estimateMemory,
  type NeoXConfig,
  NeoXModel,
  pythiaConfig,
  randomCheckpoint,
  type WeightDtype,
} from '../src/index.js';
import { writeCheckpointFolder } from './checkpoint-folder.js';
import { held, OUTLIER_SCALES, withOutliers } from './quantized-checkpoints.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) =>
  args.includes(name) ? args[args.indexOf(name) + 1]! : fallback;
const quick = args.includes('--quick');
const pythia = (size: string) => (size.startsWith('pythia-') ? size : `pythia-${size}`);
const DECODE_SIZES = quick ? ['pythia-410m'] : ['pythia-410m', 'pythia-1.4b'];
const FIDELITY_SIZE = pythia(option('--fidelity', '160m'));
const SEQUENCES = Number(option('--sequences', quick ? '4' : '8'));
const LENGTH = Number(option('--length', '256'));
const STEP_BUDGET_S = Number(option('--step-budget', '8'));
const PROMPT = 16;
const MAX_STEPS = 16;
const round = (x: number, digits = 1) => Number(x.toFixed(digits));
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const seconds = (ms: number) => round(ms / 1000, 1);
const cell = (values: (string | number)[], widths: number[]) =>
  values.map((v, i) => String(v).padEnd(widths[i]!)).join(' ');

/** Deterministic ids below `vocab` (the tokenizer's 50277), different for every position. */
function pseudoRandomIds(count: number, length: number, vocab: number, seed: number): number[][] {
  let s = seed;
  const next = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s % vocab;
  };
  return Array.from({ length: count }, () => Array.from({ length }, next));
}

async function load(
  checkpoint: Checkpoint,
  device: Device,
  dtype: WeightDtype,
): Promise<{ model: NeoXModel; loadMs: number }> {
  const start = performance.now();
  const model = await NeoXModel.fromCheckpoint(checkpoint, { device, dtype });
  return { model, loadMs: performance.now() - start };
}

/** Milliseconds per greedy decode step at batch 1, over `steps` steps after a `PROMPT`-token prefill. */
async function decodeMsPerStep(model: NeoXModel, steps: number): Promise<number> {
  const prompt = Array.from({ length: PROMPT }, (_, i) => (i * 7919 + 13) % 50277);
  const cache = model.createCache(PROMPT + steps + 1);
  try {
    let next = argmax(await model.forward(prompt, { cache, logits: 'last' }));
    const start = performance.now();
    for (let s = 0; s < steps; s++)
      next = argmax(await model.forward([next], { cache, logits: 'last' }));
    return (performance.now() - start) / steps;
  } finally {
    cache.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// a. Decode speed per dtype

interface DecodeRow {
  model: string;
  dtype: WeightDtype;
  weight_bytes: number;
  read_bytes_per_token: number;
  steps: number;
  ms_per_step: number;
  tokens_per_s: number;
  read_fraction: number;
  over_f16: number;
  load_s: number;
}

async function decodeBench(device: Device, readGbps: number): Promise<DecodeRow[]> {
  const rows: DecodeRow[] = [];
  const widths = [12, 6, 10, 12, 6, 10, 8, 12, 8, 7];
  console.log(
    `\ndecode at batch 1 after a ${PROMPT}-token prompt, random f16 weights; adapter read bandwidth ${round(readGbps, 2)} GB/s`,
  );
  console.log(
    cell(
      [
        'model',
        'dtype',
        'weights',
        'read/token',
        'steps',
        'ms/step',
        'tok/s',
        'of bandwidth',
        '× f16',
        'load s',
      ],
      widths,
    ),
  );
  for (const size of DECODE_SIZES) {
    const config = pythiaConfig(size);
    const f16Bytes = estimateMemory(config, { dtype: 'f16' }).weights;
    const base = randomCheckpoint(config, { dtype: 'F16' });
    // Generated once for the three loads when it fits easily in memory.
    const checkpoint = f16Bytes < totalmem() / 4 ? held(base) : base;
    let f16Rate = 0;
    for (const dtype of ['f16', 'q8', 'q4'] as const) {
      const { model, loadMs } = await load(checkpoint, device, dtype);
      try {
        // Warm-up: compiles the prefill and decode pipelines; its rate picks the step count.
        const warmMs = await decodeMsPerStep(model, 2);
        const steps = Math.max(4, Math.min(MAX_STEPS, Math.floor((STEP_BUDGET_S * 1000) / warmMs)));
        const ms = await decodeMsPerStep(model, steps);
        const { weights } = model;
        // A step reads every matrix (embed_out included) once and one row of embed_in.
        const embedIn = weights.embedIn;
        const tied = (weights.embedOut as unknown) === embedIn;
        const readBytes =
          weights.bytes - (tied ? 0 : embedIn.byteLength) + embedIn.byteLength / config.vocabSize;
        const rate = 1000 / ms;
        if (dtype === 'f16') f16Rate = rate;
        const row: DecodeRow = {
          model: size,
          dtype,
          weight_bytes: weights.bytes,
          read_bytes_per_token: Math.round(readBytes),
          steps,
          ms_per_step: round(ms),
          tokens_per_s: round(rate, 2),
          read_fraction: round((rate * readBytes) / (readGbps * 1e9), 2),
          over_f16: round(rate / f16Rate, 2),
          load_s: seconds(loadMs),
        };
        rows.push(row);
        console.log(
          cell(
            [
              row.model,
              row.dtype,
              mb(row.weight_bytes),
              mb(row.read_bytes_per_token),
              row.steps,
              row.ms_per_step,
              row.tokens_per_s,
              `${Math.round(row.read_fraction * 100)}%`,
              row.over_f16,
              row.load_s,
            ],
            widths,
          ),
        );
      } finally {
        model.dispose();
      }
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// b. Fidelity per dtype

/**
 * Frees `model` and the device's pooled buffers, and returns the process's resident memory once
 * the driver has them back (GB): on a software adapter, about what the next model starts from.
 */
async function free(model: NeoXModel, device: Device): Promise<number> {
  model.dispose();
  await device.trimPool();
  return round(process.memoryUsage.rss() / 1e9, 2);
}

/** Differences between reference and quantized logits, accumulated row by row in float64. */
class Fidelity {
  positions = 0;
  maxAbs = 0;
  sumAbs = 0;
  sumKl = 0;
  maxKl = 0;
  agree = 0;
  // The reference logits' spread, for scale.
  sum = 0;
  sumSquares = 0;

  add(reference: Float32Array, quantized: Float32Array, vocab: number): void {
    const rows = reference.length / vocab;
    for (let r = 0; r < rows; r++) {
      const a = reference.subarray(r * vocab, (r + 1) * vocab);
      const b = quantized.subarray(r * vocab, (r + 1) * vocab);
      let maxA = Number.NEGATIVE_INFINITY;
      let maxB = Number.NEGATIVE_INFINITY;
      let argA = 0;
      let argB = 0;
      let rowMaxAbs = 0;
      let rowSumAbs = 0;
      for (let j = 0; j < vocab; j++) {
        const x = a[j]!;
        const y = b[j]!;
        if (x > maxA) {
          maxA = x;
          argA = j;
        }
        if (y > maxB) {
          maxB = y;
          argB = j;
        }
        const d = Math.abs(x - y);
        rowSumAbs += d;
        if (d > rowMaxAbs) rowMaxAbs = d;
        this.sum += x;
        this.sumSquares += x * x;
      }
      // KL(p ‖ q) = Σ p (a − b) − lse(a) + lse(b), p = softmax(a), q = softmax(b).
      let sumExpA = 0;
      let sumExpB = 0;
      let weighted = 0;
      for (let j = 0; j < vocab; j++) {
        const ea = Math.exp(a[j]! - maxA);
        sumExpA += ea;
        sumExpB += Math.exp(b[j]! - maxB);
        weighted += ea * (a[j]! - b[j]!);
      }
      const lseA = maxA + Math.log(sumExpA);
      const lseB = maxB + Math.log(sumExpB);
      const kl = Math.max(0, weighted / sumExpA - lseA + lseB);
      this.positions++;
      this.maxAbs = Math.max(this.maxAbs, rowMaxAbs);
      this.sumAbs += rowSumAbs / vocab;
      this.sumKl += kl;
      this.maxKl = Math.max(this.maxKl, kl);
      if (argA === argB) this.agree++;
    }
  }
}

interface FidelityRow {
  model: string;
  weights: 'random' | 'random + outliers';
  reference: 'f32' | 'f16';
  dtype: 'q8' | 'q4';
  positions: number;
  reference_logit_std: number;
  max_abs_logit_diff: number;
  mean_abs_logit_diff: number;
  mean_kl: number;
  max_kl: number;
  top1_agreement: number;
  load_s: number;
  forward_s: number;
  /** Resident memory after the reference model was freed, and after this one (see `free`). */
  rss_after_reference_gb: number;
  rss_after_gb: number;
}

async function fidelityBench(device: Device): Promise<FidelityRow[]> {
  const size = FIDELITY_SIZE;
  const config = pythiaConfig(size);
  const memory = totalmem();
  // Forward passes of one sequence, without a long-lived cache.
  const need = (dtype: WeightDtype) =>
    estimateMemory(config, { dtype, contextLength: LENGTH, tokens: LENGTH }).total;
  const referenceDtype: 'f32' | 'f16' = need('f32') < memory * 0.7 ? 'f32' : 'f16';
  if (referenceDtype === 'f16' && need('f16') >= memory * 0.7) {
    console.log(
      `\nfidelity at ${size}: skipped; even its f16 reference needs about ${mb(need('f16'))}, more than 70% of this machine's ${mb(memory)}`,
    );
    return [];
  }
  if (referenceDtype === 'f16') {
    console.log(
      `\nfidelity at ${size}: an f32 model needs about ${mb(need('f32'))}, more than 70% of this machine's ${mb(memory)}; the reference is f16 (the same weight values, which are f16, widened to f32 in the kernels: at 160m its logits are bit-identical to an f32 model's)`,
    );
  }
  const f16Bytes = estimateMemory(config, { dtype: 'f16' }).weights;
  // Held in memory when small; else written to disk once (generating 7B weights for each of six
  // loads would take most of an hour) and read from there.
  let folder: string | undefined;
  let checkpoint: Checkpoint;
  if (f16Bytes < memory / 6 && !args.includes('--on-disk'))
    checkpoint = held(randomCheckpoint(config, { dtype: 'F16' }));
  else {
    folder = await mkdtemp(join(tmpdir(), `pythiajs-fidelity-${size}-`));
    console.log(`\nwriting random ${size} weights (f16, N(0, 0.02)) to ${folder}`);
    await writeCheckpointFolder(folder, config, { planted: false });
    checkpoint = await openCheckpoint(folder, 'local', new LocalFolderStore());
  }
  try {
    return await fidelityRows(device, size, config, checkpoint, referenceDtype);
  } finally {
    if (folder) {
      await checkpoint.close();
      await rm(folder, { recursive: true, force: true });
    }
  }
}

async function fidelityRows(
  device: Device,
  size: string,
  config: NeoXConfig,
  checkpoint: Checkpoint,
  referenceDtype: 'f32' | 'f16',
): Promise<FidelityRow[]> {
  const vocab = config.vocabSize;
  const sequences = pseudoRandomIds(SEQUENCES, LENGTH, 50277, 2024);
  const rows: FidelityRow[] = [];
  const widths = [12, 18, 4, 6, 10, 10, 12, 12, 10, 10, 8, 7, 10, 12];
  console.log(
    `\nfidelity against ${referenceDtype} weights at ${size}: ${SEQUENCES} sequences × ${LENGTH} pseudo-random ids, full ${vocab}-wide distributions`,
  );
  console.log(
    cell(
      [
        'model',
        'weights',
        'ref',
        'dtype',
        'positions',
        'logit std',
        'max |Δlogit|',
        'mean |Δ|',
        'mean KL',
        'max KL',
        'top-1',
        'load s',
        'forward s',
        'RSS freed GB',
      ],
      widths,
    ),
  );
  const variants = [
    ...(args.includes('--outliers-only') ? [] : [{ weights: 'random' as const, checkpoint }]),
    ...(args.includes('--no-outliers')
      ? []
      : [{ weights: 'random + outliers' as const, checkpoint: withOutliers(checkpoint) }]),
  ];
  for (const variant of variants) {
    const reference: Float32Array[] = [];
    let referenceFreedGb = 0;
    {
      const { model } = await load(variant.checkpoint, device, referenceDtype);
      try {
        for (const ids of sequences) reference.push(await model.forward(ids, { logits: 'all' }));
      } finally {
        referenceFreedGb = await free(model, device);
      }
    }
    for (const dtype of ['q8', 'q4'] as const) {
      const { model, loadMs } = await load(variant.checkpoint, device, dtype);
      const stats = new Fidelity();
      let forwardMs = 0;
      let freedGb = 0;
      try {
        for (const [i, ids] of sequences.entries()) {
          const start = performance.now();
          const logits = await model.forward(ids, { logits: 'all' });
          forwardMs += performance.now() - start;
          stats.add(reference[i]!, logits, vocab);
        }
      } finally {
        freedGb = await free(model, device);
      }
      const count = stats.positions * vocab;
      const mean = stats.sum / count;
      const row: FidelityRow = {
        model: size,
        weights: variant.weights,
        reference: referenceDtype,
        dtype,
        positions: stats.positions,
        reference_logit_std: round(Math.sqrt(stats.sumSquares / count - mean * mean), 3),
        max_abs_logit_diff: round(stats.maxAbs, 4),
        mean_abs_logit_diff: round(stats.sumAbs / stats.positions, 5),
        mean_kl: Number((stats.sumKl / stats.positions).toExponential(2)),
        max_kl: Number(stats.maxKl.toExponential(2)),
        top1_agreement: round(stats.agree / stats.positions, 4),
        load_s: seconds(loadMs),
        forward_s: seconds(forwardMs),
        rss_after_reference_gb: referenceFreedGb,
        rss_after_gb: freedGb,
      };
      rows.push(row);
      console.log(
        cell(
          [
            row.model,
            row.weights,
            row.reference,
            row.dtype,
            row.positions,
            row.reference_logit_std,
            row.max_abs_logit_diff,
            row.mean_abs_logit_diff,
            row.mean_kl.toExponential(2),
            row.max_kl.toExponential(2),
            `${round(row.top1_agreement * 100, 1)}%`,
            row.load_s,
            row.forward_s,
            `${row.rss_after_reference_gb} / ${row.rss_after_gb}`,
          ],
          widths,
        ),
      );
    }
  }
  return rows;
}

const device = await createDevice({ throttleDawnPolling: true });
try {
  if (!args.includes('--fidelity-only')) {
    const start = performance.now();
    const readGbps = await measureReadBandwidth(device);
    const results = await decodeBench(device, readGbps);
    console.log(`decode part: ${seconds(performance.now() - start)} s`);
    console.log(
      JSON.stringify({ bench: 'quantized-decode', read_gb_s: round(readGbps, 2), results }),
    );
  }
  if (!args.includes('--decode-only')) {
    const start = performance.now();
    const results = await fidelityBench(device);
    console.log(`fidelity part: ${seconds(performance.now() - start)} s`);
    console.log(
      JSON.stringify({
        bench: 'quantized-fidelity',
        outliers: { channels: 'floor([0.1, 0.35, 0.6, 0.85] × K) + 3', scales: OUTLIER_SCALES },
        results,
      }),
    );
  }
} finally {
  device.destroy();
}
