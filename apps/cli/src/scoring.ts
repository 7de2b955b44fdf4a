import { type NeoXModel, tokenLogprobs } from '@pythiajs/neox-model';

/** Log-probabilities of a text's tokens and what they add up to. */
export interface TextScore {
  /** `logprobs[i]` is log p(ids[i + 1] | the tokens before it), natural log. */
  logprobs: Float64Array;
  /** Mean negative log-likelihood per scored token, in nats. */
  loss: number;
  perplexity: number;
}

/**
 * Scores every token of a text of any length (all but the first, which has no context: Pythia has
 * no BOS token) with a sliding window over the model's context, as Hugging Face's perplexity guide
 * does: windows of `window` tokens start every `stride` tokens, and each window scores only the
 * tokens no earlier window scored, so every token is predicted once, from at least
 * `window − stride` tokens of context (except near the start).
 */
export async function scoreText(
  model: NeoXModel,
  ids: readonly number[],
  options: { window?: number; stride?: number } = {},
): Promise<TextScore> {
  const window = options.window ?? model.config.maxPositions;
  const stride = Math.min(options.stride ?? Math.floor(window / 2), window);
  const logprobs = new Float64Array(Math.max(0, ids.length - 1));
  // `scored` counts the tokens whose logprob is known: ids[1 … scored].
  let scored = 0;
  for (let start = 0; scored < ids.length - 1; start += stride) {
    const end = Math.min(start + window, ids.length);
    const windowLogprobs = await tokenLogprobs(model, ids.slice(start, end));
    // windowLogprobs[j] predicts ids[start + j + 1]; keep those after `scored`.
    for (let t = scored + 1; t < end; t++) logprobs[t - 1] = windowLogprobs[t - start - 1]!;
    scored = end - 1;
  }
  let sum = 0;
  for (const lp of logprobs) sum += lp;
  const loss = logprobs.length > 0 ? -sum / logprobs.length : Number.NaN;
  return { logprobs, loss, perplexity: Math.exp(loss) };
}
