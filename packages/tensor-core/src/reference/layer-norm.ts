/**
 * CPU reference of LayerNorm over rows of length `cols`: (x − μ)/√(σ² + eps)·w + b with the biased
 * variance, in double precision, rounded to f32. With `scale` (one value per row) the row's
 * √(σ² + eps) is replaced by it: (x − μ)/scale·w + b.
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
  scale?: ArrayLike<number>,
): Float32Array<ArrayBuffer> {
  if (x.length % cols !== 0 || weight.length !== cols || bias.length !== cols) {
    throw new RangeError(`layerNormReference: lengths do not match rows of ${cols}`);
  }
  if (scale && scale.length * cols !== x.length) {
    throw new RangeError(`layerNormReference: scale needs one value per row of ${cols}`);
  }
  const y = new Float32Array(x.length);
  for (let row = 0; row < x.length; row += cols) {
    let mean = 0;
    for (let c = 0; c < cols; c++) mean += x[row + c]!;
    mean /= cols;
    let variance = 0;
    for (let c = 0; c < cols; c++) variance += (x[row + c]! - mean) ** 2;
    variance /= cols;
    const rstd = 1 / (scale ? scale[row / cols]! : Math.sqrt(variance + eps));
    for (let c = 0; c < cols; c++) {
      y[row + c] = (x[row + c]! - mean) * rstd * weight[c]! + bias[c]!;
    }
  }
  return y;
}

/**
 * CPU reference of LayerNorm's scale (TransformerLens' `ln.hook_scale`) over rows of length
 * `cols`: √(σ² + eps) per row with the biased variance σ², in double precision, rounded to f32.
 * Returns one value per row.
 *
 * @example
 * ```ts
 * layerNormScaleReference(new Float32Array([1, 3]), 2, 0); // Float32Array [1]
 * ```
 */
export function layerNormScaleReference(
  x: ArrayLike<number>,
  cols: number,
  eps = 1e-5,
): Float32Array<ArrayBuffer> {
  if (!(cols > 0) || x.length % cols !== 0) {
    throw new RangeError(`layerNormScaleReference: length ${x.length} is not rows of ${cols}`);
  }
  const s = new Float32Array(x.length / cols);
  for (let r = 0; r < s.length; r++) {
    const row = r * cols;
    let mean = 0;
    for (let c = 0; c < cols; c++) mean += x[row + c]!;
    mean /= cols;
    let variance = 0;
    for (let c = 0; c < cols; c++) variance += (x[row + c]! - mean) ** 2;
    s[r] = Math.sqrt(variance / cols + eps);
  }
  return s;
}
