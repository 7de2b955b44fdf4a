/**
 * CPU reference of the row-wise argmax: for each row of length `cols`, the first index of its
 * maximum.
 *
 * @example
 * ```ts
 * argmaxReference(new Float32Array([1, 5, 5, 0, 2, -1]), 3); // Uint32Array [1, 1]
 * ```
 */
export function argmaxReference(x: ArrayLike<number>, cols: number): Uint32Array<ArrayBuffer> {
  const rows = x.length / cols;
  const y = new Uint32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (x[r * cols + c]! > x[r * cols + best]!) best = c;
    y[r] = best;
  }
  return y;
}
