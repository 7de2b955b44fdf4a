import { type BucketScratch, massPrefix } from '../mass-prefix.js';
import { MASS_TOLERANCE, maxScore, shiftedMass } from './common.js';

/**
 * Hugging Face `TypicalLogitsWarper` (Meister et al., "Locally Typical Sampling"), with
 * `min_tokens_to_keep = 1`:
 *
 * 1. H = −Σ p log p, the entropy of the current distribution;
 * 2. rank the tokens by |−log p − H| ascending (the most "typical" surprisal first);
 * 3. `last` = how many ranked tokens have a cumulative probability < `mass` (at most m − 1),
 *    i.e. the first rank whose cumulative probability reaches `mass`;
 * 4. keep every token whose |−log p − H| is ≤ that of the token at rank `last` — ties included.
 *
 * The most likely token can be removed. Ties in the ranking are broken by ascending id; the kept
 * set does not depend on it, since step 4 keeps ties. Ranks without sorting the row
 * ({@link massPrefix}).
 *
 * Works on `cand[0..m)` (ascending ids, finite scores) and returns the new length, order kept.
 */
export function typicalP(
  scores: Float64Array,
  cand: Int32Array,
  m: number,
  mass: number,
  scratch: { dist: Float64Array; weight: Float64Array; out: Int32Array; tmp: Int32Array },
  buckets: BucketScratch,
): number {
  if (mass >= 1 || m <= 1) return m;
  const { dist, weight, out, tmp } = scratch;
  const max = maxScore(scores, cand, m);
  const logTotal = Math.log(shiftedMass(scores, cand, m, max));
  let entropy = 0;
  for (let i = 0; i < m; i++) {
    const logp = scores[cand[i]!]! - max - logTotal;
    entropy -= Math.exp(logp) * logp;
  }
  for (let i = 0; i < m; i++) {
    const id = cand[i]!;
    const logp = scores[id]! - max - logTotal;
    dist[id] = Math.abs(-logp - entropy);
    weight[id] = Math.exp(logp);
  }
  const ranked = massPrefix(cand, m, dist, weight, mass - MASS_TOLERANCE, out, tmp, buckets);
  const threshold = dist[out[ranked - 1]!]!;
  let kept = 0;
  for (let i = 0; i < m; i++) if (dist[cand[i]!]! <= threshold) cand[kept++] = cand[i]!;
  return kept;
}
