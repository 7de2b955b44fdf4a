/**
 * Relative tolerance for the cumulative-mass comparisons of top-p and typical-p. Their sums are
 * float64 and their order of summation differs from Hugging Face's float32 `cumsum`, so a mass
 * that equals the threshold in exact arithmetic can land a few ulps either side of it; within this
 * tolerance a mass counts as equal to the threshold, which is what the exact rule then decides.
 */
export const MASS_TOLERANCE = 1e-9;

/** Largest score among the candidates `cand[0..m)`. */
export function maxScore(scores: Float64Array, cand: Int32Array, m: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < m; i++) if (scores[cand[i]!]! > max) max = scores[cand[i]!]!;
  return max;
}

/** Σ exp(score − max) over the candidates: the softmax denominator, shifted by `max`. */
export function shiftedMass(
  scores: Float64Array,
  cand: Int32Array,
  m: number,
  max: number,
): number {
  let total = 0;
  for (let i = 0; i < m; i++) total += Math.exp(scores[cand[i]!]! - max);
  return total;
}
