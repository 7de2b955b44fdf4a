import type { PackedSegment } from '../packing.js';
import { rowPlaces } from './packing.js';

/** Sizes and settings of {@link rotaryReference}. */
export interface RotaryReferenceOptions {
  tokens: number;
  heads: number;
  headDim: number;
  rotaryDims: number;
  base?: number;
  positionOffset?: number;
  /** Several sequences packed into the rows, as for `packSequences` (instead of positionOffset). */
  segments?: readonly PackedSegment[];
}

/**
 * CPU reference of GPT-NeoX rotary embedding on x [tokens, heads, headDim]: rotate-half over the
 * first `rotaryDims` of each head, position = positionOffset + token (with `segments`: the row's
 * position in its own sequence).
 *
 * The angle is formed exactly as in f32 arithmetic, θ = f32(f32(position)·f32(inv_freq_i)), and
 * only cos/sin and the rotation are in double precision. Rounding the angle matters: at position
 * 2048 an f32 angle is off by up to 1.2e-4 rad from the real-number one, a difference of 1e-4 in
 * the output, while both PyTorch (which builds `freqs` in f32) and the GPU kernel use the rounded
 * angle.
 *
 * @example
 * ```ts
 * // one token at position 1, one head [1, 0]: rotated by 1 rad
 * rotaryReference(new Float32Array([1, 0]), { tokens: 1, heads: 1, headDim: 2, rotaryDims: 2, positionOffset: 1 });
 * // ≈ [0.5403, 0.8415]
 * ```
 */
export function rotaryReference(
  x: ArrayLike<number>,
  options: RotaryReferenceOptions,
): Float32Array<ArrayBuffer> {
  const { tokens, heads, headDim, rotaryDims, base = 10000 } = options;
  if (x.length !== tokens * heads * headDim || rotaryDims % 2 !== 0 || rotaryDims > headDim) {
    throw new RangeError('rotaryReference: sizes do not match');
  }
  const places = rowPlaces('rotaryReference', tokens, options.positionOffset, options.segments);
  const half = rotaryDims / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = base ** ((-2 * i) / rotaryDims);
  const y = Float32Array.from(x);
  for (let t = 0; t < tokens; t++) {
    const position = Math.fround(places.position[t]!);
    for (let h = 0; h < heads; h++) {
      const row = (t * heads + h) * headDim;
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(position * invFreq[i]!);
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        const a = x[row + i]!;
        const b = x[row + i + half]!;
        y[row + i] = a * c - b * s;
        y[row + i + half] = b * c + a * s;
      }
    }
  }
  return y;
}
