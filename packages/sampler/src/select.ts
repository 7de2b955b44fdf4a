/**
 * Partial selection: the `k` best of `m` token ids without sorting all of them — O(m log k) with a
 * binary heap, which for top-k = 40 over Pythia's 50 304-wide row is a single pass.
 *
 * "Best" is a total order — larger `key[id]` first, then the smaller id — so the result never
 * depends on the engine's sort algorithm (stable or not) and is the same in Node and browsers.
 */

/** Whether token `a` ranks before token `b`: larger key, ties broken by the smaller id. */
function ranksBefore(key: ArrayLike<number>, a: number, b: number): boolean {
  const ka = key[a]!;
  const kb = key[b]!;
  return ka > kb || (ka === kb && a < b);
}

/** Restores the heap below `i`; the root holds the worst-ranked of the `size` ids. */
function siftDown(heap: Int32Array, i: number, size: number, key: ArrayLike<number>): void {
  for (;;) {
    const l = 2 * i + 1;
    if (l >= size) return;
    const r = l + 1;
    // The child that ranks last must move up, so the root stays the worst of the heap.
    const c = r < size && ranksBefore(key, heap[l]!, heap[r]!) ? r : l;
    if (ranksBefore(key, heap[c]!, heap[i]!)) return;
    const t = heap[i]!;
    heap[i] = heap[c]!;
    heap[c] = t;
    i = c;
  }
}

/**
 * Writes the `k` best of `ids[0..m)` to `out[0..k)`, best first, and returns how many it wrote
 * (`min(k, m)`). `out` must not alias `ids`.
 */
export function selectBest(
  ids: Int32Array,
  m: number,
  k: number,
  key: ArrayLike<number>,
  out: Int32Array,
): number {
  const size = Math.min(k, m);
  if (size <= 0) return 0;
  for (let i = 0; i < size; i++) out[i] = ids[i]!;
  for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(out, i, size, key);
  for (let i = size; i < m; i++) {
    const id = ids[i]!;
    if (ranksBefore(key, id, out[0]!)) {
      out[0] = id;
      siftDown(out, 0, size, key);
    }
  }
  out.subarray(0, size).sort((a, b) => (a === b ? 0 : ranksBefore(key, a, b) ? -1 : 1));
  return size;
}
