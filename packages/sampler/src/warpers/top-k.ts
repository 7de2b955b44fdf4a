import { selectBest } from '../select.js';

/**
 * Hugging Face `TopKLogitsWarper`: removes every token whose score is below the k-th largest
 * (`scores < topk(scores, k)[-1]`), so tokens tied with the k-th are kept and more than `k` may
 * survive. Finds the k-th score by partial selection (O(m log k)), not by sorting the row.
 *
 * Works on the candidate list `cand[0..m)` (ascending ids, all scores finite) and returns its new
 * length; the survivors stay in ascending id order. `scratch` holds at least `k` ids.
 */
export function topK(
  scores: Float64Array,
  cand: Int32Array,
  m: number,
  k: number,
  scratch: Int32Array,
): number {
  if (k <= 0 || k >= m) return m;
  selectBest(cand, m, k, scores, scratch);
  const kth = scores[scratch[k - 1]!]!;
  let kept = 0;
  for (let i = 0; i < m; i++) if (scores[cand[i]!]! >= kth) cand[kept++] = cand[i]!;
  return kept;
}
