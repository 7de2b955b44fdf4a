/**
 * CPU reference of the `add` kernel: y[i] = a[i] + b[i].
 *
 * @example
 * ```ts
 * addReference(new Float32Array([1, 2]), new Float32Array([10, 20])); // Float32Array [11, 22]
 * ```
 */
export function addReference(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): Float32Array<ArrayBuffer> {
  if (a.length !== b.length) throw new RangeError(`lengths differ: ${a.length} vs ${b.length}`);
  const y = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) y[i] = a[i]! + b[i]!;
  return y;
}
