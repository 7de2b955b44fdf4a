/**
 * Hugging Face `RepetitionPenaltyLogitsProcessor` (the CTRL paper's penalty): every distinct token
 * in `tokens[from..]` has its logit multiplied by `penalty` when negative and divided by it
 * otherwise — so a penalty > 1 always lowers the logit. Hugging Face gathers all the scores before
 * scattering the penalized ones back, so a token that occurs twice is penalized once; `mark` is a
 * zeroed scratch row (one slot per token id) that records which ids were done and is zeroed again
 * on return. `from` is 0 for the prompt-and-generated scope (Hugging Face's default) and the prompt
 * length for the generated-only scope (its `prompt_ignore_length`).
 */
export function applyRepetitionPenalty(
  scores: Float64Array,
  tokens: ArrayLike<number>,
  from: number,
  penalty: number,
  mark: Int32Array,
): void {
  for (let i = from; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (mark[t] !== 0) continue;
    mark[t] = 1;
    const s = scores[t]!;
    scores[t] = s < 0 ? s * penalty : s / penalty;
  }
  for (let i = from; i < tokens.length; i++) mark[tokens[i]!] = 0;
}

/**
 * OpenAI presence and frequency penalties: `logit[j] − count[j] · frequency − [count[j] > 0] ·
 * presence`, where `count[j]` is how often `j` occurs in `tokens[from..]` (the OpenAI API counts the
 * generated tokens only, so `from` defaults to the prompt length). Placed right after the repetition
 * penalty, the order vLLM's `apply_penalties` uses for the three. `counts` is a zeroed scratch row,
 * zeroed again on return.
 */
export function applyPresenceFrequencyPenalties(
  scores: Float64Array,
  tokens: ArrayLike<number>,
  from: number,
  presence: number,
  frequency: number,
  counts: Int32Array,
): void {
  for (let i = from; i < tokens.length; i++) counts[tokens[i]!]!++;
  for (let i = from; i < tokens.length; i++) {
    const t = tokens[i]!;
    const c = counts[t]!;
    if (c === 0) continue; // already penalized: every occurrence after the first lands here
    scores[t] = scores[t]! - c * frequency - presence;
    counts[t] = 0;
  }
}
