import { logSumExp } from '@pythiajs/sampler';

/**
 * The `k` most likely ids of a logits row with their probabilities, best first (ties: lower id).
 * Only the first `allowed` ids count: Pythia's rows are padded past the tokenizer's vocabulary
 * with ids that never occur in text.
 */
export function topTokens(
  logits: Float32Array,
  k: number,
  allowed = logits.length,
): Array<{ id: number; prob: number }> {
  const row = logits.subarray(0, Math.min(allowed, logits.length));
  const norm = logSumExp(row);
  const best: number[] = [];
  for (let id = 0; id < row.length; id++) {
    if (best.length === k && row[id]! <= row[best[k - 1]!]!) continue;
    let at = best.length;
    while (at > 0 && row[best[at - 1]!]! < row[id]!) at--;
    best.splice(at, 0, id);
    if (best.length > k) best.pop();
  }
  return best.map((id) => ({ id, prob: Math.exp(row[id]! - norm) }));
}
