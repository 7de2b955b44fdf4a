// The quantized weight formats on the CPU: block sizes, word counts, and the one quantizer that
// both `QuantizedTensor.writeRows` and `quantizeReference` run, so that the GPU holds exactly what
// the reference says. Pure arithmetic on typed arrays.
import { f16BitsToF32, f32ToF16Bits } from './f16.js';

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
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

/**
 * The f16 nearest to `d` whose magnitude is not below |d| (saturating at ±65504), as bits: with
 * |d| rounded up, no weight of the block falls beyond the largest q, so none is clamped.
 */
function scaleBits(d: number): number {
  let bits = f32ToF16Bits(d);
  if (Math.abs(f16BitsToF32(bits)) < Math.abs(d)) bits++; // sign-magnitude: one step away from 0
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
  const isF16 = data instanceof Uint16Array;
  const block = new Float64Array(QUANT_BLOCK);
  const q = new Int32Array(QUANT_BLOCK);
  const blocks = (rows * k) / QUANT_BLOCK;
  const words = QUANT_BLOCK_WORDS[format];
  for (let b = 0; b < blocks; b++) {
    const start = b * QUANT_BLOCK;
    // The weight of largest magnitude, sign included (the first one on ties).
    let extreme = 0;
    for (let i = 0; i < QUANT_BLOCK; i++) {
      const v = isF16 ? f16BitsToF32(data[start + i]!) : data[start + i]!;
      block[i] = v;
      if (Math.abs(v) > Math.abs(extreme)) extreme = v;
    }
    const bits =
      extreme === 0 ? 0 : scaleBits(format === 'q8' ? Math.abs(extreme) / 127 : extreme / -8);
    const d = f16BitsToF32(bits);
    scales[b] = bits;
    if (format === 'q8') {
      for (let i = 0; i < QUANT_BLOCK; i++) {
        const v = d === 0 ? 0 : roundHalfAway(block[i]! / d);
        q[i] = Math.max(-127, Math.min(127, v || 0));
      }
      for (let w = 0; w < words; w++) {
        const i = 4 * w;
        values[b * words + w] =
          ((q[i]! & 0xff) |
            ((q[i + 1]! & 0xff) << 8) |
            ((q[i + 2]! & 0xff) << 16) |
            ((q[i + 3]! & 0xff) << 24)) >>>
          0;
      }
      if (dequantized) for (let i = 0; i < QUANT_BLOCK; i++) dequantized[start + i] = q[i]! * d;
    } else {
      for (let i = 0; i < QUANT_BLOCK; i++) {
        const v = d === 0 ? 8 : Math.floor(block[i]! / d + 8.5);
        q[i] = Math.max(0, Math.min(15, v || 0));
      }
      for (let w = 0; w < words; w++) {
        let word = 0;
        for (let j = 0; j < 8; j++) word |= q[8 * w + j]! << (4 * j);
        values[b * words + w] = word >>> 0;
      }
      if (dequantized) {
        for (let i = 0; i < QUANT_BLOCK; i++) dequantized[start + i] = (q[i]! - 8) * d;
      }
    }
  }
}
