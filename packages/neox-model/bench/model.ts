// neox-model benchmark (`pnpm --filter @pythiajs/neox-model bench`): random-weight models at the
// real pythia-70m, 160m and 410m shapes in f16. For each: load time, time to first token of a
// 128-token prompt on a fresh device (pipeline compilation included), prefill and decode
// tokens/s, GPU buffers created while decoding, GPU memory against weights + KV cache, and decode's
// weight-read rate as a ratio of the adapter's streaming-read bandwidth measured in the same run.
// Prints a table and one JSON line. `--quick` runs 70m only.
import { createDevice, measureReadBandwidth } from '@pythiajs/tensor-core';
import { NeoXModel, pythiaConfig, randomCheckpoint } from '../src/index.js';

const PROMPT = 128;
const DECODE = 64;
const sizes = process.argv.includes('--quick') ? ['70m'] : ['70m', '160m', '410m'];
const seconds = (start: number) => (performance.now() - start) / 1000;
const argmax = (row: Float32Array) => row.reduce((best, v, i) => (v > row[best]! ? i : best), 0);

interface Result {
  model: string;
  weight_bytes: number;
  load_s: number;
  first_token_ms: number;
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
  prefill_to_decode_per_token: number;
  read_gb_per_s: number;
  decode_weight_read_ratio: number;
  buffers_created_during_decode: number;
  gpu_bytes: number;
  gpu_bytes_over_weights_and_cache: number;
}
const results: Result[] = [];
for (const size of sizes) {
  const config = pythiaConfig(size);
  const device = await createDevice();
  let start = performance.now();
  const model = await NeoXModel.fromCheckpoint(randomCheckpoint(config, { seed: 1 }), { device });
  const loadSeconds = seconds(start);
  const prompt = Array.from({ length: PROMPT }, (_, i) => (i * 7919 + 13) % 50000);

  // Time to first token on this fresh device: every prefill pipeline compiles here.
  const context = PROMPT + DECODE + 1;
  let cache = model.createCache(context);
  start = performance.now();
  let logits = await model.forward(prompt, { cache, logits: 'last' });
  const firstTokenMs = seconds(start) * 1000;

  // Prefill again, warm.
  cache.dispose();
  cache = model.createCache(context);
  start = performance.now();
  logits = await model.forward(prompt, { cache, logits: 'last' });
  const prefillSeconds = seconds(start);

  // Decode: one step to compile the single-row pipelines, then DECODE timed steps.
  let id = argmax(logits);
  logits = await model.forward([id], { cache, logits: 'last' });
  const buffersBefore = device.stats.buffersCreated;
  start = performance.now();
  for (let step = 0; step < DECODE; step++) {
    id = argmax(logits);
    logits = await model.forward([id], { cache, logits: 'last' });
  }
  const decodeSeconds = seconds(start);
  const buffersDuringDecode = device.stats.buffersCreated - buffersBefore;
  const gpuBytes = device.stats.bytesAllocated;
  const weightAndCache = model.weights.bytes + cache.byteLength;
  const readGbps = await measureReadBandwidth(device);
  const decodeTps = DECODE / decodeSeconds;
  results.push({
    model: `pythia-${size}`,
    weight_bytes: model.weights.bytes,
    load_s: Number(loadSeconds.toFixed(2)),
    first_token_ms: Math.round(firstTokenMs),
    prefill_tokens_per_s: Number((PROMPT / prefillSeconds).toFixed(1)),
    decode_tokens_per_s: Number(decodeTps.toFixed(2)),
    prefill_to_decode_per_token: Number((PROMPT / prefillSeconds / decodeTps).toFixed(1)),
    read_gb_per_s: Number(readGbps.toFixed(2)),
    decode_weight_read_ratio: Number(
      ((decodeTps * model.weights.bytes) / (readGbps * 1e9)).toFixed(2),
    ),
    buffers_created_during_decode: buffersDuringDecode,
    gpu_bytes: gpuBytes,
    gpu_bytes_over_weights_and_cache: Number((gpuBytes / weightAndCache).toFixed(3)),
  });
  cache.dispose();
  model.dispose();
  device.destroy();
}

const columns: Array<[string, (r: Result) => string]> = [
  ['model', (r) => r.model],
  ['weights', (r) => `${(r.weight_bytes / 1e6).toFixed(0)} MB`],
  ['load', (r) => `${r.load_s} s`],
  ['first token', (r) => `${r.first_token_ms} ms`],
  ['prefill', (r) => `${r.prefill_tokens_per_s} tok/s`],
  ['decode', (r) => `${r.decode_tokens_per_s} tok/s`],
  ['prefill/decode', (r) => `${r.prefill_to_decode_per_token}x (≥10)`],
  ['read bw', (r) => `${r.read_gb_per_s} GB/s`],
  ['decode read', (r) => `${Math.round(r.decode_weight_read_ratio * 100)}% (≥50%)`],
  ['new buffers', (r) => `${r.buffers_created_during_decode} (0)`],
  ['GPU memory', (r) => `${r.gpu_bytes_over_weights_and_cache}x (≤1.15)`],
];
const widths = columns.map(([h, f]) => Math.max(h.length, ...results.map((r) => f(r).length)));
console.log(columns.map(([h], i) => h.padEnd(widths[i]!)).join('  '));
for (const r of results) console.log(columns.map(([, f], i) => f(r).padEnd(widths[i]!)).join('  '));
console.log(JSON.stringify({ bench: 'neox-model', adapter: 'see tensor-core bench', results }));
