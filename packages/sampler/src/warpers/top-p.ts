import { type BucketScratch, massPrefix } from '../mass-prefix.js';
import { MASS_TOLERANCE, maxScore } from './common.js';

/**
 * Hugging Face `TopPLogitsWarper` (nucleus sampling). Hugging Face sorts ascending and removes the
 * tokens whose cumulative probability is ≤ 1 − p, then keeps the last (most likely) one anyway.
 * Read from the most likely token down, that keeps exactly the tokens whose probability mass
 * *before* them is < p: the smallest most-likely set reaching p, and never fewer than one token.
 * Ties are ranked by ascending id (PyTorch's sort does not promise an order for them).
 *
 * Ranks without sorting the row ({@link massPrefix}). Works on `cand[0..m)` (ascending ids, finite
 * scores) and returns the new length; survivors stay in ascending id order. `dist` and `weight`
 * are scratch rows indexed by id, `out` and `tmp` hold at least `m` ids.
 */
export function topP(
  scores: Float64Array,
  cand: Int32Array,
  m: number,
  p: number,
  scratch: { dist: Float64Array; weight: Float64Array; out: Int32Array; tmp: Int32Array },
  buckets: BucketScratch,
): number {
  if (p >= 1 || m <= 1) return m;
  const { dist, weight, out, tmp } = scratch;
  const max = maxScore(scores, cand, m);
  let total = 0;
  for (let i = 0; i < m; i++) {
    const id = cand[i]!;
    dist[id] = max - scores[id]!; // most likely first
    weight[id] = Math.exp(scores[id]! - max);
    total += weight[id]!;
  }
  // Keep while the mass before < p·total: through the first rank where the sum reaches p·total.
  const kept = massPrefix(cand, m, dist, weight, (p - MASS_TOLERANCE) * total, out, tmp, buckets);
  for (let i = 0; i < kept; i++) cand[i] = out[i]!;
  cand.subarray(0, kept).sort();
  return kept;
}
