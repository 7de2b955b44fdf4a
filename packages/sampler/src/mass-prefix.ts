/**
 * The shared core of top-p and typical-p: rank the candidates by a distance (ascending, ties by
 * ascending id) and find the first rank at which the cumulative weight reaches a target — without
 * sorting the row. One pass drops every candidate into one of 4 096 buckets by distance (bucket
 * order agrees with rank order), a walk over the buckets finds the one where the target is crossed,
 * and only that bucket is sorted. A next-token row of 50 304 logits is thus ranked in O(n) plus a
 * sort of a few dozen ids, where a full sort took ~10 ms per token on a flat row.
 */

const BUCKETS = 4096;
/** Distances further than this (in nats) from the nearest share the last bucket: weight < e^−64. */
const MAX_SPAN = 64;

/** Reusable bucket tallies (4 097 entries, not per-row sized). */
export interface BucketScratch {
  count: Int32Array;
  mass: Float64Array;
}

export function allocateBuckets(): BucketScratch {
  return { count: new Int32Array(BUCKETS + 1), mass: new Float64Array(BUCKETS + 1) };
}

/**
 * Ranks `cand[0..m)` by `dist[id]` ascending (ties: ascending id), accumulates `weight[id]` in rank
 * order and stops at the first rank where the sum reaches `target` (at the last rank if it never
 * does). Writes the ids of every rank up to that one to `out` and returns their number L; `out[L−1]`
 * is the stopping token, the others come in no particular order. `tmp` holds at least `m` ids.
 */
export function massPrefix(
  cand: Int32Array,
  m: number,
  dist: Float64Array,
  weight: Float64Array,
  target: number,
  out: Int32Array,
  tmp: Int32Array,
  buckets: BucketScratch,
): number {
  const { count, mass } = buckets;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < m; i++) {
    const d = dist[cand[i]!]!;
    if (d < lo) lo = d;
    if (d > hi) hi = d;
  }
  const span = Math.min(hi - lo, MAX_SPAN);
  const scale = span > 0 ? BUCKETS / span : 0;
  // Monotone in d (subtraction, scaling and floor all are), so bucket order is rank order.
  const bucketOf = (d: number) => Math.min(BUCKETS, Math.floor((d - lo) * scale));
  count.fill(0);
  mass.fill(0);
  for (let i = 0; i < m; i++) {
    const id = cand[i]!;
    const b = bucketOf(dist[id]!);
    count[b]!++;
    mass[b]! += weight[id]!;
  }
  let before = 0;
  let boundary = -1;
  let reached = false;
  for (let b = 0; b <= BUCKETS; b++) {
    if (count[b] === 0) continue;
    boundary = b;
    if (before + mass[b]! >= target) {
      reached = true;
      break;
    }
    before += mass[b]!;
  }
  // Everything in earlier buckets ranks before the boundary bucket; only that bucket is sorted.
  let prefix = 0;
  let inBucket = 0;
  for (let i = 0; i < m; i++) {
    const id = cand[i]!;
    const b = bucketOf(dist[id]!);
    if (b < boundary) out[prefix++] = id;
    else if (b === boundary) tmp[inBucket++] = id;
  }
  tmp.subarray(0, inBucket).sort((a, b) => dist[a]! - dist[b]! || a - b);
  // Never reached (rounding): every token is in the prefix, the last-ranked one stops it.
  let j = reached ? 0 : inBucket - 1;
  if (reached) {
    for (; j < inBucket - 1; j++) {
      before += weight[tmp[j]!]!;
      if (before >= target) break;
    }
  }
  for (let r = 0; r <= j; r++) out[prefix + r] = tmp[r]!;
  return prefix + j + 1;
}
