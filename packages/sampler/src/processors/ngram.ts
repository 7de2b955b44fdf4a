/**
 * Hugging Face `NoRepeatNGramLogitsProcessor` (from fairseq): bans every token that would complete
 * an n-gram of size `n` already present in `tokens` — i.e. every token that followed an earlier
 * occurrence of the last `n − 1` tokens. Hugging Face reads the whole `input_ids`, which for a
 * decoder-only model includes the prompt, so this does too. With `n = 1` every token seen is banned.
 *
 * O(length · n) per call with no allocation, instead of Hugging Face's dictionary of all n-grams.
 */
export function banRepeatedNgrams(
  scores: Float64Array,
  tokens: ArrayLike<number>,
  n: number,
): void {
  const length = tokens.length;
  // Hugging Face: `if cur_len + 1 < ngram_size: no banned tokens`.
  if (length + 1 < n) return;
  const prefix = n - 1;
  const start = length - prefix; // where the current (n − 1)-token prefix begins
  for (let i = 0; i + n <= length; i++) {
    let match = true;
    for (let j = 0; j < prefix; j++) {
      if (tokens[i + j] !== tokens[start + j]) {
        match = false;
        break;
      }
    }
    if (match) scores[tokens[i + prefix]!] = Number.NEGATIVE_INFINITY;
  }
}
