import type { QuantFormat } from '../quant-blocks.js';

/**
 * How every kernel reads a quantized weight matrix (see `QuantizedTensor`). One GPU buffer per
 * row chunk of n rows (`params.n`) of a [N, K] matrix, K = 32·B, viewed as `array<u32>`:
 *
 *   (the buffer is padded to a multiple of 16 bytes, for kernels that read it as vec4<u32>)
 *   words [0, n·K/4)  q8 values: weight e (= row·K + k, row-major) is byte e % 4 of word e / 4,
 *                     two's complement int8 q ∈ [−127, 127]; block b = e / 32 is words 8b…8b+7
 *   words [0, n·K/8)  q4 values: weight e is bits 4·(e % 8)…+3 of word e / 8, q ∈ [0, 15];
 *                     block b is words 4b…4b+3
 *   then ⌈n·B/2⌉      f16 scales d_b, two per word, block b in half b % 2 (low half first) of
 *   words             word b / 2 after the values (a chunk starts at an even block)
 *
 *   W[row, k] = q·d_b (q8)   or   (q − 8)·d_b (q4),   b = (row·K + k) / 32.
 *
 * Both products are exact in f32 (an integer of ≤ 8 bits times an f16), so dequantizing on the GPU
 * gives the CPU reference's values bit for bit; the scales are read with the core
 * `unpack2x16float`, which needs no shader-f16.
 *
 * Defines `w` at `@binding(binding)`, `quant_scale(block)`, `weight4(unit)` (weights 4·unit …
 * 4·unit+3, a unit never straddles a block) and `load_w(e)` (one weight); they read `params.n`
 * and `params.k`, which every kernel using them declares.
 */
export function quantWeightWgsl(format: QuantFormat, binding = 1): string {
  const valueWords = format === 'q8' ? 'params.n * (params.k / 4u)' : 'params.n * (params.k / 8u)';
  const common = `@group(0) @binding(${binding}) var<storage, read> w: array<u32>;
fn quant_scale(block: u32) -> f32 {
  return unpack2x16float(w[${valueWords} + (block >> 1u)])[block & 1u];
}`;
  if (format === 'q8') {
    return `${common}
// The 4 int8 of a word, sign-extended by shifting each to the top and back.
fn i8x4(word: u32) -> vec4f {
  return vec4f((vec4i(bitcast<i32>(word)) << vec4u(24u, 16u, 8u, 0u)) >> vec4u(24u));
}
fn weight4(unit: u32) -> vec4f {
  return i8x4(w[unit]) * quant_scale(unit >> 3u);
}
fn load_w(e: u32) -> f32 {
  return f32((bitcast<i32>(w[e >> 2u]) << (24u - 8u * (e & 3u))) >> 24u) * quant_scale(e >> 5u);
}`;
  }
  return `${common}
// Nibbles 0-3 (or 4-7 after a shift by 16) of a word, as q - 8.
fn q4x4(word: u32) -> vec4f {
  return vec4f((vec4u(word) >> vec4u(0u, 4u, 8u, 12u)) & vec4u(15u)) - 8.0;
}
fn weight4(unit: u32) -> vec4f {
  return q4x4(w[unit >> 1u] >> ((unit & 1u) * 16u)) * quant_scale(unit >> 3u);
}
fn load_w(e: u32) -> f32 {
  return (f32((w[e >> 3u] >> (4u * (e & 7u))) & 15u) - 8.0) * quant_scale(e >> 5u);
}`;
}
