import { maxScore } from './common.js';

/**
 * Hugging Face `MinPLogitsWarper`: removes the tokens whose probability is below `minP` times the
 * top token's probability (`probs < min_p * probs.max()`). It runs after temperature (Hugging Face
 * applies warpers in the order temperature, top-k, top-p, min-p, typical-p), so "probability"
 * means after temperature. Since p / p_max = exp(score − max score), no softmax is needed. The top
 * token always passes (ratio 1 ≥ minP), which is Hugging Face's `min_tokens_to_keep = 1`.
 *
 * Works on `cand[0..m)` (ascending ids, finite scores) and returns the new length, order kept.
 */
export function minP(scores: Float64Array, cand: Int32Array, m: number, minP: number): number {
  if (minP <= 0 || m <= 1) return m;
  const max = maxScore(scores, cand, m);
  let kept = 0;
  for (let i = 0; i < m; i++) {
    const id = cand[i]!;
    if (Math.exp(scores[id]! - max) >= minP) cand[kept++] = id;
  }
  return kept;
}
