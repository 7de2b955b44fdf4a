/**
 * CPU reference of LayerNorm over rows of length `cols`: (x − μ)/√(σ² + eps)·w + b with the biased
 * variance, in double precision, rounded to f32.
 *
 * @example
 * ```ts
 * layerNormReference(new Float32Array([1, 3]), [1, 1], [0, 0], 2, 0); // Float32Array [-1, 1]
 * ```
 */
export function layerNormReference(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
  cols: number,
  eps = 1e-5,
): Float32Array<ArrayBuffer> {
  if (x.length % cols !== 0 || weight.length !== cols || bias.length !== cols) {
    throw new RangeError(`layerNormReference: lengths do not match rows of ${cols}`);
  }
  const y = new Float32Array(x.length);
  for (let row = 0; row < x.length; row += cols) {
    let mean = 0;
    for (let c = 0; c < cols; c++) mean += x[row + c]!;
    mean /= cols;
    let variance = 0;
    for (let c = 0; c < cols; c++) variance += (x[row + c]! - mean) ** 2;
    variance /= cols;
    const rstd = 1 / Math.sqrt(variance + eps);
    for (let c = 0; c < cols; c++) {
      y[row + c] = (x[row + c]! - mean) * rstd * weight[c]! + bias[c]!;
    }
  }
  return y;
}
