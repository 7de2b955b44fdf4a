import { erfc } from './erf.js';

/**
 * CPU reference of exact GELU, 0.5·x·(1 + erf(x/√2)), in double precision (computed as
 * 0.5·x·erfc(−x/√2) so the negative tail keeps its relative accuracy), rounded to f32.
 *
 * @example
 * ```ts
 * geluReference(new Float32Array([-1, 0, 1])); // ≈ [-0.158655, 0, 0.841345]
 * ```
 */
export function geluReference(x: ArrayLike<number>): Float32Array<ArrayBuffer> {
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    y[i] = 0.5 * v * erfc(-v / Math.SQRT2);
  }
  return y;
}

/**
 * CPU reference of tanh-approximated GELU, 0.5·x·(1 + tanh(u)) with u = √(2/π)·(x + 0.044715·x³),
 * in double precision, rounded to f32. Evaluated as the identical x / (1 + e^(−2u)) because
 * 1 + tanh(u) cancels to nothing in double precision too once x < −6.
 *
 * @example
 * ```ts
 * geluTanhReference(new Float32Array([1])); // ≈ [0.841192]
 * ```
 */
export function geluTanhReference(x: ArrayLike<number>): Float32Array<ArrayBuffer> {
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    const u = Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v);
    y[i] = v / (1 + Math.exp(-2 * u));
  }
  return y;
}
