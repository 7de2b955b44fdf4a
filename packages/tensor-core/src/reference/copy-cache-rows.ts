/**
 * CPU reference of `copyCacheRows`: a copy of `cache` (f32 `[heads, rows, headDim]`, row-major)
 * where, in every head, the rows `to[k] … to[k] + length − 1` hold the rows
 * `from … from + length − 1` of the original.
 *
 * @example
 * ```ts
 * // One head, 4 rows of 1: row 0 copied to rows 2 and 3.
 * copyCacheRowsReference([1, 2, 3, 4], [1, 4, 1], { from: 0, to: [2, 3], length: 1 });
 * // Float32Array [1, 2, 1, 1]
 * ```
 */
export function copyCacheRowsReference(
  cache: ArrayLike<number>,
  shape: readonly [heads: number, rows: number, headDim: number],
  options: { from: number; to: readonly number[]; length: number },
): Float32Array<ArrayBuffer> {
  const [heads, rows, headDim] = shape;
  if (cache.length !== heads * rows * headDim) {
    throw new RangeError(`copyCacheRowsReference: ${cache.length} elements for [${shape}]`);
  }
  const out = Float32Array.from(cache);
  const { from, to, length } = options;
  for (let h = 0; h < heads; h++) {
    for (const start of to) {
      for (let r = 0; r < length; r++) {
        for (let d = 0; d < headDim; d++) {
          out[(h * rows + start + r) * headDim + d] = cache[(h * rows + from + r) * headDim + d]!;
        }
      }
    }
  }
  return out;
}
