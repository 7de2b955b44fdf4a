/**
 * CPU reference of row-wise top-k: for each row of length `cols`, the k largest values and their
 * indices, best first, equal values in increasing index order (a stable descending sort).
 *
 * @example
 * ```ts
 * topkReference(new Float32Array([1, 5, 3, 5]), 4, 3);
 * // { values: [5, 5, 3], indices: [1, 3, 2] }
 * ```
 */
export function topkReference(
  x: ArrayLike<number>,
  cols: number,
  k: number,
): { values: Float32Array<ArrayBuffer>; indices: Uint32Array<ArrayBuffer> } {
  const rows = x.length / cols;
  const values = new Float32Array(rows * k);
  const indices = new Uint32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const order = Array.from({ length: cols }, (_, c) => c);
    order.sort((a, b) => x[r * cols + b]! - x[r * cols + a]! || a - b);
    for (let i = 0; i < k; i++) {
      indices[r * k + i] = order[i]!;
      values[r * k + i] = x[r * cols + order[i]!]!;
    }
  }
  return { values, indices };
}
