/**
 * CPU reference of `headOutputs`: out[t,h,n] = Σ_d z[t,h,d]·W[n, h·D + d], accumulated in double
 * precision and rounded to f32. z [T, H·D], W [N, H·D], out [T, H, N], row-major; f16 weights
 * must be widened first (`f16BitsToF32Array`).
 *
 * @example
 * ```ts
 * // 1 token, 2 heads of dim 1, N = 1: z = [2, 3], W = [[10, 100]] → [[20], [300]]
 * headOutputsReference([2, 3], [10, 100], 1, 2, 1, 1); // Float32Array [20, 300]
 * ```
 */
export function headOutputsReference(
  z: ArrayLike<number>,
  weight: ArrayLike<number>,
  tokens: number,
  heads: number,
  headDim: number,
  n: number,
): Float32Array<ArrayBuffer> {
  const k = heads * headDim;
  if (z.length !== tokens * k || weight.length !== n * k) {
    throw new RangeError(
      `headOutputsReference: lengths do not match T=${tokens}, H=${heads}, D=${headDim}, N=${n}`,
    );
  }
  const y = new Float32Array(tokens * heads * n);
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      for (let col = 0; col < n; col++) {
        let acc = 0;
        for (let d = 0; d < headDim; d++) {
          acc += z[t * k + h * headDim + d]! * weight[col * k + h * headDim + d]!;
        }
        y[(t * heads + h) * n + col] = acc;
      }
    }
  }
  return y;
}

/**
 * CPU reference of `sumHeads`: y[t,n] = Σ_h result[t,h,n] + bias[n], in double precision,
 * rounded to f32. result [T, H, N], y [T, N], row-major.
 *
 * @example
 * ```ts
 * sumHeadsReference([1, 2, 10, 20], 1, 2, 2, [100, 200]); // Float32Array [111, 222]
 * ```
 */
export function sumHeadsReference(
  result: ArrayLike<number>,
  tokens: number,
  heads: number,
  n: number,
  bias?: ArrayLike<number>,
): Float32Array<ArrayBuffer> {
  if (result.length !== tokens * heads * n || (bias && bias.length !== n)) {
    throw new RangeError(`sumHeadsReference: lengths do not match T=${tokens}, H=${heads}, N=${n}`);
  }
  const y = new Float32Array(tokens * n);
  for (let t = 0; t < tokens; t++) {
    for (let col = 0; col < n; col++) {
      let acc = bias ? bias[col]! : 0;
      for (let h = 0; h < heads; h++) acc += result[(t * heads + h) * n + col]!;
      y[t * n + col] = acc;
    }
  }
  return y;
}
