/** The `k` most likely entries of a row of logits, with their softmax probabilities (float64). */
export function topTokens(row: ArrayLike<number>, k: number): Array<{ id: number; prob: number }> {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  // A partial selection: k is small (≤ 100) against 50 304 entries.
  const best: number[] = [];
  for (let i = 0; i < row.length; i++) {
    if (best.length === k && row[i]! <= row[best[k - 1]!]!) continue;
    let at = best.length === k ? k - 1 : best.length;
    best[at] = i;
    while (at > 0 && row[best[at - 1]!]! < row[i]!) {
      best[at] = best[at - 1]!;
      best[--at] = i;
    }
  }
  return best.map((id) => ({ id, prob: Math.exp(row[id]! - max) / sum }));
}

/** Natural-log softmax of `row` at `id` and whether `id` is the row's (first) argmax. */
export function logprobAt(
  row: ArrayLike<number>,
  id: number,
): { logprob: number; greedy: boolean } {
  let max = Number.NEGATIVE_INFINITY;
  let argmax = 0;
  for (let i = 0; i < row.length; i++) {
    if (row[i]! > max) {
      max = row[i]!;
      argmax = i;
    }
  }
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return { logprob: row[id]! - max - Math.log(sum), greedy: argmax === id };
}
