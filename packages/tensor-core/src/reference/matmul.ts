/**
 * CPU reference of a linear layer, y[m,n] = Σ_k x[m,k]·W[n,k] + b[n], accumulated in double
 * precision and rounded to f32. x [M, K], W [N, K] and y [M, N] are row-major; f16 weights must
 * be widened first (`f16BitsToF32Array`).
 *
 * @example
 * ```ts
 * // [1, 2] · [[1, 0], [0, 1], [1, 1]]ᵀ + [0, 0, 10] = [1, 2, 13]
 * matmulReference(new Float32Array([1, 2]), new Float32Array([1, 0, 0, 1, 1, 1]), 1, 3, 2, [0, 0, 10]);
 * ```
 */
export function matmulReference(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  m: number,
  n: number,
  k: number,
  bias?: ArrayLike<number>,
): Float32Array<ArrayBuffer> {
  if (x.length !== m * k || weight.length !== n * k || (bias && bias.length !== n)) {
    throw new RangeError(`matmulReference: lengths do not match M=${m}, N=${n}, K=${k}`);
  }
  const y = new Float32Array(m * n);
  for (let row = 0; row < m; row++) {
    for (let col = 0; col < n; col++) {
      let acc = bias ? bias[col]! : 0;
      for (let i = 0; i < k; i++) acc += x[row * k + i]! * weight[col * k + i]!;
      y[row * n + col] = acc;
    }
  }
  return y;
}
