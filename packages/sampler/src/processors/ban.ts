const NEG_INF = Number.NEGATIVE_INFINITY;

/** Sets the logits of `ids` to −∞ (Hugging Face `SuppressTokensLogitsProcessor`). */
export function suppressIds(scores: Float64Array, ids: Int32Array): void {
  for (let k = 0; k < ids.length; k++) scores[ids[k]!] = NEG_INF;
}

/**
 * Hugging Face `NoBadWordsLogitsProcessor` (a `SequenceBiasLogitsProcessor` with −∞ biases) for the
 * sequences of two or more tokens: bans a sequence's last token when `tokens` ends with the rest of
 * it. As in Hugging Face, a sequence longer than the whole history is skipped (`len(sequence_ids) >
 * input_ids.shape[1]`). One-token sequences are plain {@link suppressIds}. Unlike Hugging Face,
 * which drops a one-token bad word equal to the EOS id, nothing is dropped: the sampler knows no EOS.
 */
export function banBadWordEndings(
  scores: Float64Array,
  tokens: ArrayLike<number>,
  sequences: readonly Int32Array[],
): void {
  const length = tokens.length;
  for (const seq of sequences) {
    if (seq.length > length) continue;
    const prefix = seq.length - 1;
    let match = true;
    for (let j = 0; j < prefix; j++) {
      if (tokens[length - prefix + j] !== seq[j]) {
        match = false;
        break;
      }
    }
    if (match) scores[seq[prefix]!] = NEG_INF;
  }
}

/**
 * Vocabulary masking: ids the tokenizer does not have (≥ `vocabSize`) get −∞. Pythia's output
 * layer is padded to 50 304 rows for speed while the GPT-NeoX-20B tokenizer has 50 277 ids, and a
 * sampled padding id could not be decoded. Not a Hugging Face processor; it runs last among the
 * processors, where its place does not matter: −∞ is left −∞ by every other processor.
 */
export function maskBeyondVocab(scores: Float64Array, vocabSize: number): void {
  for (let i = vocabSize; i < scores.length; i++) scores[i] = NEG_INF;
}
