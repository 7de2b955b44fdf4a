/**
 * CPU reference of the embedding gather: row ids[t] of a [V, cols] table for each t, concatenated;
 * ids outside [0, V) give zero rows, as on the GPU.
 *
 * @example
 * ```ts
 * embeddingReference([1, 0], new Float32Array([1, 2, 3, 4]), 2); // Float32Array [3, 4, 1, 2]
 * ```
 */
export function embeddingReference(
  ids: ArrayLike<number>,
  table: ArrayLike<number>,
  cols: number,
): Float32Array<ArrayBuffer> {
  const vocab = table.length / cols;
  const y = new Float32Array(ids.length * cols);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t]!;
    if (id < 0 || id >= vocab) continue;
    for (let c = 0; c < cols; c++) y[t * cols + c] = table[id * cols + c]!;
  }
  return y;
}
