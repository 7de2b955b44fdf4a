/** Index of the largest logit, the first one on ties (as `argmax` in PyTorch). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/**
 * log Σ exp(row), computed stably in float64 (shifted by the maximum). `-Infinity` entries count
 * as probability zero; a row of only `-Infinity` gives `-Infinity`.
 */
export function logSumExp(row: ArrayLike<number>): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  if (max === Number.NEGATIVE_INFINITY) return max;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return max + Math.log(sum);
}

/** log-softmax of `logits` at `id`, computed stably in float64. */
export function logSoftmaxAt(logits: ArrayLike<number>, id: number): number {
  return logits[id]! - logSumExp(logits);
}
