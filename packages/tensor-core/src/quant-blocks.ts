// The quantized weight formats on the CPU: block sizes, word counts, and the one quantizer that
// both `QuantizedTensor.writeRows` and `quantizeReference` run, so that the GPU holds exactly what
// the reference says. Pure arithmetic on typed arrays.
import { f16Table, f32ToF16Bits } from './f16.js';

/**
 * A quantized weight format, per block of {@link QUANT_BLOCK} consecutive weights along K (the
 * input dimension of a `[N, K]` nn.Linear weight), with one f16 scale d per block:
 *
 * - `q8`: int8 q ∈ [−127, 127], w ≈ q·d, d = max|w| / 127 (llama.cpp's Q8_0): 8.5 bits per weight.
 * - `q4`: 4-bit q ∈ [0, 15], w ≈ (q − 8)·d, d = m / −8 where m is the block's weight of largest
 *   magnitude, sign included (llama.cpp's Q4_0): 4.5 bits per weight.
 */
export type QuantFormat = 'q8' | 'q4';

/** Weights per quantization block (along K). */
export const QUANT_BLOCK = 32;

/** u32 words of values per block: 32 int8 in 8 words (q8), 32 nibbles in 4 words (q4). */
export const QUANT_BLOCK_WORDS: Readonly<Record<QuantFormat, number>> = { q8: 8, q4: 4 };

/** The largest finite f16, 0x7bff: the cap of a scale (weights beyond ±65504·127 saturate). */
const MAX_F16_BITS = 0x7bff;

/** Rounds half away from zero, like C's `roundf` (llama.cpp's Q8_0). */
function roundHalfAway(v: number): number {
  // floor(a + 0.5) is exact for a ≥ 0.5, and cheaper than Math.round; below 0.5 it would round
  // 0.49999999999999994 up. The sign is multiplied in, not branched on: weights' signs are random.
  const a = Math.abs(v);
  return Math.sign(v) * (a < 0.5 ? 0 : Math.floor(a + 0.5));
}

/**
 * The f16 nearest to `d` whose magnitude is not below |d| (saturating at ±65504), as bits: with
 * |d| rounded up, no weight of the block falls beyond the largest q, so none is clamped.
 */
function scaleBits(d: number, table: Float32Array): number {
  let bits = f32ToF16Bits(d);
  if (Math.abs(table[bits]!) < Math.abs(d)) bits++; // sign-magnitude: one step away from 0
  return (bits & 0x7fff) > MAX_F16_BITS ? (bits & 0x8000) | MAX_F16_BITS : bits;
}

/**
 * Quantizes `rows` rows of `k` weights (k a multiple of 32) from `data` — f32 values, or f16 bit
 * patterns in a Uint16Array — into `values` (rows·k/4 words for q8, rows·k/8 for q4, row-major by
 * block) and `scales` (f16 bits, one per block, row-major). When `dequantized` is given it
 * receives q·d (exact in f32: a ≤ 8-bit integer times an f16).
 *
 * Each block's scale is rounded to f16 first (its magnitude rounded up, by at most 2⁻¹⁰
 * relative) and the values quantized against the rounded scale, so the stored pair is the best
 * one for the stored scale: |w − q·d| ≤ |d|/2 for every q8 weight, and for q4 for every weight
 * whose q does not clamp at 15 — only weights beyond 7.5·|d| on the side opposite the block's
 * largest one (up to 8·|d| there) clamp, with an error ≤ |d|. An all-zero block gets d = 0 and
 * q = 0 (8 for q4): no NaN.
 */
export function quantizeBlocks(
  data: Float32Array | Uint16Array,
  rows: number,
  k: number,
  format: QuantFormat,
  values: Uint32Array,
  scales: Uint16Array,
  dequantized?: Float32Array,
): void {
  // One Float32Array type in the loops below keeps V8's element accesses monomorphic (several
  // times faster than reading a Float32Array | Uint16Array union per weight). A loop per format,
  // though they look alike: one loop for both, or a shared helper for the block's extreme, ran q4
  // at 90 M weights/s against 130 (and q8 at 57 against 64) here.
  const x = data instanceof Uint16Array ? widenF16(data) : data;
  const blocks = (rows * k) / QUANT_BLOCK;
  if (format === 'q8') quantizeQ8(x, blocks, values, scales, dequantized);
  else quantizeQ4(x, blocks, values, scales, dequantized);
}

let wide = new Float32Array(0);

/**
 * f16 bits as f32 values, in a buffer reused across calls (the caller reads it at once). The same
 * loop as `f16BitsToF32Array`'s, kept apart: called through one shared function (whose callers
 * pass other array types) it cut q4 quantizing from 133 to 92 M weights/s here.
 */
function widenF16(bits: Uint16Array): Float32Array {
  // Kept for the next call up to a load's piece size (4 MiB of f32); larger ones are one-off.
  const out = bits.length <= wide.length ? wide : new Float32Array(bits.length);
  if (out.length <= 1 << 20) wide = out;
  const table = f16Table();
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!;
  return out;
}

/** One q8 value: round(v / d), half away from zero, clamped to ±127; NaN → 0. */
function q8(v: number, d: number): number {
  const r = roundHalfAway(v / d);
  return r > 127 ? 127 : r < -127 ? -127 : r | 0;
}

function quantizeQ8(
  x: Float32Array,
  blocks: number,
  values: Uint32Array,
  scales: Uint16Array,
  dequantized: Float32Array | undefined,
): void {
  const table = f16Table();
  for (let b = 0; b < blocks; b++) {
    const start = b * QUANT_BLOCK;
    let largest = 0;
    for (let i = start; i < start + QUANT_BLOCK; i++) {
      const magnitude = Math.abs(x[i]!);
      if (magnitude > largest) largest = magnitude;
    }
    const bits = largest === 0 ? 0 : scaleBits(largest / 127, table);
    scales[b] = bits;
    const d = table[bits]!;
    const out = b * 8;
    if (d === 0) {
      values.fill(0, out, out + 8);
    } else {
      for (let w = 0; w < 8; w++) {
        const i = start + 4 * w;
        values[out + w] =
          ((q8(x[i]!, d) & 0xff) |
            ((q8(x[i + 1]!, d) & 0xff) << 8) |
            ((q8(x[i + 2]!, d) & 0xff) << 16) |
            ((q8(x[i + 3]!, d) & 0xff) << 24)) >>>
          0;
      }
    }
    if (dequantized) {
      for (let i = start; i < start + QUANT_BLOCK; i++) {
        dequantized[i] = d === 0 ? 0 : q8(x[i]!, d) * d;
      }
    }
  }
}

/** One q4 value: floor(v / d + 8.5) clamped to [0, 15]; NaN → 0. */
function q4(v: number, d: number): number {
  const r = Math.floor(v / d + 8.5);
  return r > 15 ? 15 : r < 0 ? 0 : r | 0;
}

function quantizeQ4(
  x: Float32Array,
  blocks: number,
  values: Uint32Array,
  scales: Uint16Array,
  dequantized: Float32Array | undefined,
): void {
  const table = f16Table();
  for (let b = 0; b < blocks; b++) {
    const start = b * QUANT_BLOCK;
    // The weight of largest magnitude, sign included (the first one on ties).
    let extreme = 0;
    let largest = 0;
    for (let i = start; i < start + QUANT_BLOCK; i++) {
      const v = x[i]!;
      const magnitude = Math.abs(v);
      if (magnitude > largest) {
        largest = magnitude;
        extreme = v;
      }
    }
    const bits = extreme === 0 ? 0 : scaleBits(extreme / -8, table);
    scales[b] = bits;
    const d = table[bits]!;
    const out = b * 4;
    for (let w = 0; w < 4; w++) {
      let word = 0;
      const i = start + 8 * w;
      for (let j = 0; j < 8; j++) word |= (d === 0 ? 8 : q4(x[i + j]!, d)) << (4 * j);
      values[out + w] = word >>> 0;
    }
    if (dequantized) {
      for (let i = start; i < start + QUANT_BLOCK; i++) {
        dequantized[i] = d === 0 ? 0 : (q4(x[i]!, d) - 8) * d;
      }
    }
  }
}
