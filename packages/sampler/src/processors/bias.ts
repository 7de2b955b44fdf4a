/**
 * Logit bias: adds `values[k]` to the logit of `ids[k]` — the OpenAI API's `logit_bias`, and Hugging
 * Face's `SequenceBiasLogitsProcessor` restricted to one-token sequences. Hugging Face's
 * `_get_logits_processor` applies `sequence_bias` before every other processor, so it runs first
 * here too: a bias then goes through the repetition penalty like the model's own logit does.
 */
export function applyLogitBias(scores: Float64Array, ids: Int32Array, values: Float64Array): void {
  for (let k = 0; k < ids.length; k++) scores[ids[k]!] = scores[ids[k]!]! + values[k]!;
}
