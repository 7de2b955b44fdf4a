// Kernel benchmark at pythia shapes: `pnpm --filter @pythiajs/tensor-core bench` (`-- --quick`
// for fewer iterations and shapes, `-- --gemm` for the prefill GEMM comparison alone,
// `-- --attention` for the prefill attention comparison alone).
// GPU times come from timestamp queries when the adapter has them (else wall clock around a
// flush and a 4-byte read). Each result is the median over its iterations; rows compared with the
// read bandwidth (GEMV, attention) and the read yardstick itself take the best of three medians.
import {
  attention,
  createDevice,
  type Device,
  f32ArrayToF16Bits,
  matmul,
  packSequences,
  type Tensor,
} from '../src/index.js';
import { GEMM_TILE, gemmTextbookWgsl, gemmWgsl } from '../src/kernels/gemm.js';
import { attentionLanesTile } from '../src/ops/attention.js';
import { type GemmPlan, gemmPlan } from '../src/ops/matmul.js';
import { STREAM_READ_WORKGROUPS, streamReadWgsl } from './stream-read.js';

const MODELS = [
  { name: 'pythia-70m', hidden: 512, heads: 8, mlp: 2048, vocab: 50304 },
  { name: 'pythia-410m', hidden: 1024, heads: 16, mlp: 4096, vocab: 50304 },
  { name: 'pythia-1.4b', hidden: 2048, heads: 16, mlp: 8192, vocab: 50304 },
];
const PREFILL_ROWS = 128;
const CONTEXT = 2048;
const quick = process.argv.includes('--quick');
const attentionOnly = process.argv.includes('--attention');
const gemmOnly = process.argv.includes('--gemm') && !attentionOnly;
// The prefill attention comparison (section 6): one sequence of T tokens, or 8 packed of 128.
const ATTENTION_HEADS = [8, 12];
const ATTENTION_HEAD_DIM = 64;
// The prefill GEMM comparison (section 5): every linear layer of these models, M rows.
const GEMM_MODELS = [
  { name: 'pythia-70m', hidden: 512 },
  { name: 'pythia-160m', hidden: 768 },
  { name: 'pythia-410m', hidden: 1024 },
];
const GEMM_ROWS = [128, 1024];
const VOCAB = 50304;
// The unembedding at 1024 rows runs on the first rows of the vocabulary only: the tiled kernel
// needs minutes for all 50304 on lavapipe, and GFLOP/s hardly depend on N at this size.
const UNEMBED_SLICE_AT_1024 = 4096;

interface Row {
  model: string;
  kernel: string;
  shape: string;
  ms: number;
  gbps?: number;
  gflops?: number;
  ratio?: number;
  /** 'read bandwidth' (printed as a percentage) or the kernel the ratio is a speed-up over. */
  ratioOf?: string;
}

const device = await createDevice();
const timed = device.features.timestampQuery;
const rows: Row[] = [];

/** Iterations for work of `bytesOrFlops` units: fewer for big shapes (lavapipe is slow). */
function iterationsFor(seconds: number): number {
  return Math.max(2, Math.min(quick ? 3 : 20, Math.round(0.6 / Math.max(seconds, 1e-4))));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function sync(device: Device): Promise<void> {
  const probe = device.zeros([1]);
  await probe.read();
  probe.dispose();
}

/** Median seconds of one `run()` (which records kernels and returns tensors to dispose). */
async function measure(run: () => Tensor[]): Promise<number> {
  for (const t of run()) t.dispose(); // compile + warm up
  await sync(device);
  const start = performance.now();
  for (const t of run()) t.dispose();
  await sync(device);
  const iterations = iterationsFor((performance.now() - start) / 1000);
  const samples: number[] = [];
  if (timed) {
    device.startProfiling();
    let perRun = 0;
    for (let i = 0; i < iterations; i++) {
      const before = device.stats.dispatches;
      for (const t of run()) t.dispose();
      perRun = device.stats.dispatches - before;
    }
    const timings = await device.stopProfiling();
    for (let i = 0; i < iterations; i++) {
      const slice = timings.slice(i * perRun, (i + 1) * perRun);
      samples.push(slice.reduce((s, t) => s + t.nanoseconds, 0) / 1e9);
    }
  } else {
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      for (const t of run()) t.dispose();
      await sync(device);
      samples.push((performance.now() - t0) / 1000);
    }
  }
  return median(samples);
}

/**
 * Best of three {@link measure} medians: the statistic of the read yardstick too, so that a
 * bandwidth ratio compares like with like on a machine whose speed drifts.
 */
async function measureBest(run: () => Tensor[]): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) best = Math.min(best, await measure(run));
  return best;
}

function random(n: number, seed: number): Float32Array {
  let s = seed;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 0.2;
  }
  return out;
}

// 1. The yardstick: streaming-read bandwidth of this adapter. Software adapters share the CPU
// with everything else, so it is measured three times over the run and the best is kept: the
// GEMV and attention ratios below are then conservative.
const streamBytes = 128 * 1024 * 1024 - 16;
const sink = device.zeros([STREAM_READ_WORKGROUPS * 256], 'u32');
async function streamRead(): Promise<number> {
  const source = device.zeros([streamBytes / 4], 'u32');
  const seconds = await measure(() => {
    device.dispatch({
      code: streamReadWgsl,
      bindings: [source, sink],
      uniforms: new Uint32Array([streamBytes / 16]),
      workgroups: [STREAM_READ_WORKGROUPS],
    });
    return [];
  });
  source.dispose();
  return seconds;
}
const streamSamples = [await streamRead()];
let readGbps = streamBytes / streamSamples[0]! / 1e9;

for (const model of attentionOnly ? [] : MODELS) {
  if (model === MODELS[2] && !gemmOnly) streamSamples.push(await streamRead());
  const { hidden: h, heads, mlp, vocab } = model;
  // 2. GEMV (decode): the MLP up-projection and the unembedding, f16 and f32 weights.
  for (const [label, n] of gemmOnly
    ? []
    : ([
        ['mlp up', mlp],
        ['unembed', vocab],
      ] as const)) {
    for (const dtype of ['f16', 'f32'] as const) {
      if (quick && dtype === 'f32' && n === vocab) continue;
      const values = random(n * h, n + h);
      const weight =
        dtype === 'f16'
          ? device.tensor(f32ArrayToF16Bits(values), [n, h])
          : device.tensor(values, [n, h]);
      const x = device.tensor(random(h, 1), [1, h]);
      const seconds = await measureBest(() => [matmul(x, weight)]);
      const bytes = weight.byteLength + x.byteLength + n * 4;
      const gbps = bytes / seconds / 1e9;
      rows.push({
        model: model.name,
        kernel: `gemv ${dtype}`,
        shape: `${label} [${n}, ${h}]${weight.chunks.length > 1 ? ` (${weight.chunks.length} chunks)` : ''}`,
        ms: seconds * 1e3,
        gbps,
        ratio: gbps / readGbps,
        ratioOf: 'read bandwidth',
      });
      weight.dispose();
      x.dispose();
    }
  }

  // 3. GEMM (prefill, M = 128): MLP up-projection, f16 weights; against the textbook kernel.
  if (!gemmOnly) {
    const m = PREFILL_ROWS;
    const n = mlp;
    const weight = device.tensor(f32ArrayToF16Bits(random(n * h, 3)), [n, h]);
    const x = device.tensor(random(m * h, 4), [m, h]);
    const flops = 2 * m * n * h;
    const blocked = await measure(() => [matmul(x, weight)]);
    const textbookCode = gemmTextbookWgsl({
      weight: device.features.shaderF16 ? 'f16' : 'f16-packed',
    });
    const textbook = await measure(() => {
      const y = device.empty([m, n]);
      device.dispatch({
        code: textbookCode,
        bindings: [x, weight, y],
        uniforms: new Uint32Array([m, n, h, n, 0]),
        workgroups: [Math.ceil(n / 16), Math.ceil(m / 16)],
      });
      return [y];
    });
    rows.push({
      model: model.name,
      kernel: 'gemm textbook 16x16',
      shape: `[${m}, ${h}]·[${n}, ${h}]ᵀ`,
      ms: textbook * 1e3,
      gflops: flops / textbook / 1e9,
    });
    rows.push({
      model: model.name,
      kernel: `gemm (matmul: ${planName(gemmPlan(device, m, h))})`,
      shape: `[${m}, ${h}]·[${n}, ${h}]ᵀ`,
      ms: blocked * 1e3,
      gflops: flops / blocked / 1e9,
      ratio: textbook / blocked,
      ratioOf: 'textbook',
    });
    weight.dispose();
    x.dispose();
  }

  // 4. Attention decode: one query over a full context of 2048 cached positions.
  if (!gemmOnly) {
    const headDim = h / heads;
    const cacheShape = [heads, CONTEXT, headDim];
    const kCache = device.tensor(random(heads * CONTEXT * headDim, 5), cacheShape);
    const vCache = device.tensor(random(heads * CONTEXT * headDim, 6), cacheShape);
    const q = device.tensor(random(heads * headDim, 7), [1, heads, headDim]);
    // One workgroup per head, then keys split into blocks of 256 (the default for decoding).
    for (const splitKeys of [false, true]) {
      const seconds = await measureBest(() => [
        attention(q, kCache, vCache, { positionOffset: CONTEXT - 1, splitKeys }),
      ]);
      const bytes = kCache.byteLength + vCache.byteLength;
      const gbps = bytes / seconds / 1e9;
      rows.push({
        model: model.name,
        kernel: splitKeys ? 'attention decode, split' : 'attention decode, 1 wg/head',
        shape: `${heads}×${headDim}, ${CONTEXT} keys`,
        ms: seconds * 1e3,
        gbps,
        ratio: gbps / readGbps,
        ratioOf: 'read bandwidth',
      });
    }
    for (const t of [kCache, vCache, q]) t.dispose();
  }
}

// 5. GEMM (prefill): every linear layer at M = 128 and 1024 rows, f16 weights, the tiled 64×64
// kernel (the GPU choice, and what every adapter ran before) against what matmul runs on this
// adapter, alternating between the two within each shape so both see the same machine load.
function planName(plan: GemmPlan): string {
  if (plan.kernel === 'tiled') return `tiled ${GEMM_TILE}x${GEMM_TILE}`;
  const { rows, columns, invocations, shuffle } = plan.tile;
  return `lanes ${rows}x${columns}/inv, ${invocations} inv${shuffle ? ', shuffle' : ''}`;
}

/** Seconds of one `run()`: GPU timestamps, else wall clock around a flush and a read. */
async function timeOnce(run: () => Tensor[]): Promise<number> {
  if (timed) {
    device.startProfiling();
    for (const t of run()) t.dispose();
    const timings = await device.stopProfiling();
    return timings.reduce((s, t) => s + t.nanoseconds, 0) / 1e9;
  }
  const start = performance.now();
  for (const t of run()) t.dispose();
  await sync(device);
  return (performance.now() - start) / 1000;
}

/**
 * Median seconds of `a` and of `b`, measured alternately. With GPU timestamps the first runs
 * count (compiling happens before the pass starts): the tiled kernel takes seconds per run here.
 */
async function measurePair(a: () => Tensor[], b: () => Tensor[]): Promise<[number, number]> {
  if (!timed) {
    for (const t of [...a(), ...b()]) t.dispose();
    await sync(device);
  }
  const samples: [number[], number[]] = [[await timeOnce(a)], [await timeOnce(b)]];
  const rounds = Math.max(
    2,
    Math.min(quick ? 3 : 7, Math.round(3 / (samples[0][0]! + samples[1][0]!))),
  );
  for (let round = 1; round < rounds; round++) {
    const order = round % 2 ? [1, 0] : [0, 1];
    for (const which of order) samples[which]!.push(await timeOnce(which ? b : a));
  }
  return [median(samples[0]), median(samples[1])];
}

const gemmRatios: number[] = [];
for (const { name, hidden: h } of attentionOnly
  ? []
  : quick
    ? GEMM_MODELS.slice(0, 1)
    : GEMM_MODELS) {
  const layers = [
    ['qkv', 3 * h, h],
    ['dense', h, h],
    ['mlp up', 4 * h, h],
    ['mlp down', h, 4 * h],
    ['unembed', VOCAB, h],
  ] as const;
  for (const m of GEMM_ROWS) {
    for (const [label, fullN, k] of layers) {
      const n = label === 'unembed' && m > 128 ? UNEMBED_SLICE_AT_1024 : fullN;
      const weight = device.tensor(f32ArrayToF16Bits(random(n * k, n + k)), [n, k]);
      const x = device.tensor(random(m * k, m + k), [m, k]);
      const tiledCode = gemmWgsl({ weight: device.features.shaderF16 ? 'f16' : 'f16-packed' });
      const tiled = () => {
        const y = device.empty([m, n]);
        for (const chunk of weight.chunks) {
          device.dispatch({
            code: tiledCode,
            bindings: [x, chunk.buffer, y],
            uniforms: new Uint32Array([m, chunk.rows, k, n, chunk.firstRow]),
            workgroups: [Math.ceil(chunk.rows / GEMM_TILE), Math.ceil(m / GEMM_TILE)],
          });
        }
        return [y];
      };
      const [oldSeconds, newSeconds] = await measurePair(tiled, () => [matmul(x, weight)]);
      const flops = 2 * m * n * k;
      const shape = `${label} [${m}, ${k}]·[${n === fullN ? n : `${n} of ${fullN}`}, ${k}]ᵀ`;
      rows.push({
        model: name,
        kernel: `gemm tiled ${GEMM_TILE}x${GEMM_TILE} (before)`,
        shape,
        ms: oldSeconds * 1e3,
        gflops: flops / oldSeconds / 1e9,
      });
      rows.push({
        model: name,
        kernel: `gemm ${planName(gemmPlan(device, m, k))}`,
        shape,
        ms: newSeconds * 1e3,
        gflops: flops / newSeconds / 1e9,
        ratio: oldSeconds / newSeconds,
        ratioOf: 'tiled',
      });
      gemmRatios.push(oldSeconds / newSeconds);
      weight.dispose();
      x.dispose();
    }
  }
}

// 6. Attention (prefill): what `attention` ran before on this adapter (the workgroup kernel, or
// the split one where its rule splits: 1024 tokens) against its choice now (attention-lanes on
// CPU adapters), alternating within each shape. headDim 64, causal from position 0.
const attentionRatios: number[] = [];
for (const heads of gemmOnly ? [] : ATTENTION_HEADS) {
  const D = ATTENTION_HEAD_DIM;
  const shapes = [
    { label: '128 tokens', tokens: 128, sequences: 1 },
    { label: '1024 tokens', tokens: 1024, sequences: 1 },
    { label: '8 packed × 128 tokens', tokens: 1024, sequences: 8 },
  ];
  for (const { label, tokens, sequences } of quick ? shapes.slice(0, 1) : shapes) {
    const length = tokens / sequences;
    const packing =
      sequences > 1
        ? packSequences(
            device,
            Array.from({ length: sequences }, (_, s) => ({
              cacheStart: s * length,
              position: 0,
              length,
            })),
          )
        : undefined;
    const cacheShape = [heads, tokens, D];
    const q = device.tensor(random(tokens * heads * D, 11), [tokens, heads, D]);
    const kCache = device.tensor(random(heads * tokens * D, 12), cacheShape);
    const vCache = device.tensor(random(heads * tokens * D, 13), cacheShape);
    const placement = packing ? { packing } : { positionOffset: 0 };
    const [oldSeconds, newSeconds] = await measurePair(
      () => [attention(q, kCache, vCache, { ...placement, lanes: false })],
      () => [attention(q, kCache, vCache, placement)],
    );
    const oldKernel = tokens > 256 && sequences === 1 ? 'split' : '1 wg/row';
    const tile = attentionLanesTile(device, D, tokens, length);
    const shape = `${label}, ${heads}×${D}`;
    rows.push({
      model: '-',
      kernel: `attention prefill, ${oldKernel} (before)`,
      shape,
      ms: oldSeconds * 1e3,
    });
    rows.push({
      model: '-',
      kernel: `attention prefill (now${tile ? `: lanes ${tile.rows} row/lane` : ''})`,
      shape,
      ms: newSeconds * 1e3,
      ratio: oldSeconds / newSeconds,
      ratioOf: 'before',
    });
    attentionRatios.push(oldSeconds / newSeconds);
    packing?.dispose();
    for (const t of [q, kCache, vCache]) t.dispose();
  }
}

streamSamples.push(await streamRead());
const streamSeconds = Math.min(...streamSamples);
const bestGbps = streamBytes / streamSeconds / 1e9;
// Ratios were computed against the first sample; rescale them to the best one.
for (const row of rows) if (row.ratioOf === 'read bandwidth') row.ratio = row.gbps! / bestGbps;
readGbps = bestGbps;
rows.unshift({
  model: '-',
  kernel: 'stream read',
  shape: `128 MiB (best of ${streamSamples.length})`,
  ms: streamSeconds * 1e3,
  gbps: readGbps,
});

const fmt = (v: number | undefined, digits = 2) => (v === undefined ? '' : v.toFixed(digits));
console.log(
  `adapter: ${device.adapterInfo.description || device.adapterInfo.vendor} (${timed ? 'GPU timestamps' : 'wall clock'})`,
);
const header = ['model', 'kernel', 'shape', 'ms', 'GB/s', 'GFLOP/s', 'ratio'];
const table = rows.map((r) => [
  r.model,
  r.kernel,
  r.shape,
  fmt(r.ms, 3),
  fmt(r.gbps),
  fmt(r.gflops),
  r.ratio === undefined
    ? ''
    : r.ratioOf === 'read bandwidth'
      ? `${(r.ratio * 100).toFixed(0)}% of read`
      : `${r.ratio.toFixed(2)}× ${r.ratioOf}`,
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of table) console.log(line(r));
if (gemmRatios.length > 0) {
  console.log(
    `prefill GEMM, matmul's kernel over the tiled one: median ${median(gemmRatios).toFixed(2)}×, ` +
      `range ${Math.min(...gemmRatios).toFixed(2)}–${Math.max(...gemmRatios).toFixed(2)}× (${gemmRatios.length} shapes)`,
  );
}
if (attentionRatios.length > 0) {
  console.log(
    `prefill attention, now over before: median ${median(attentionRatios).toFixed(2)}×, ` +
      `range ${Math.min(...attentionRatios).toFixed(2)}–${Math.max(...attentionRatios).toFixed(2)}× (${attentionRatios.length} shapes)`,
  );
}
console.log(
  JSON.stringify({
    adapter: device.adapterInfo.description || device.adapterInfo.vendor,
    timing: timed ? 'timestamp-query' : 'wall-clock',
    readGBps: Number(readGbps.toFixed(3)),
    results: rows.map((r) => ({ ...r, ms: Number(r.ms.toFixed(4)) })),
  }),
);
device.destroy();
