import {
  type NeoXConfig,
  type NeoXModel,
  tokenLogprobs,
  type WeightDtype,
} from '@pythiajs/neox-model';
import { batchSize } from './batch-size.js';
import type { MemoryUse } from './memory-check.js';

/** Log-probabilities of a text's tokens and what they add up to. */
export interface TextScore {
  /** `logprobs[i]` is log p(ids[i + 1] | the tokens before it), natural log. */
  logprobs: Float64Array;
  /** Mean negative log-likelihood per scored token, in nats. */
  loss: number;
  perplexity: number;
}

/** One window of {@link slidingWindows}: it runs on `ids[start … end − 1]`. */
export interface ScoreWindow {
  start: number;
  end: number;
  /** The first token it scores: it scores `ids[first … end − 1]`, which no earlier window did. */
  first: number;
}

/**
 * The windows that score every token of a text of `length` tokens (all but the first, which has
 * no context: Pythia has no BOS token), as Hugging Face's perplexity guide slides them: windows of
 * `window` tokens start every `stride` tokens, and each scores only the tokens no earlier window
 * scored, so every token is predicted once, from at least `window − stride` tokens of context
 * (except near the start). A window never starts after the token before the first it scores, so
 * with `stride` equal to `window` each token still has one token of context.
 */
export function slidingWindows(length: number, window: number, stride: number): ScoreWindow[] {
  const windows: ScoreWindow[] = [];
  // `scored` counts the tokens whose window is known: ids[1 … scored].
  let scored = 0;
  for (let start = 0; scored < length - 1; start += stride) {
    const from = Math.min(start, scored);
    const end = Math.min(from + window, length);
    windows.push({ start: from, end, first: scored + 1 });
    scored = end - 1;
  }
  return windows;
}

/** The window and stride `scoreText` uses for a model: the context, and half of it by default. */
export function windowAndStride(
  maxPositions: number,
  options: { window?: number; stride?: number },
): { window: number; stride: number } {
  const window = options.window ?? maxPositions;
  const stride = Math.max(1, Math.min(options.stride ?? Math.floor(window / 2), window));
  return { window, stride };
}

/**
 * How {@link scoreText} runs a text of `length` tokens on a model: windows per step (`--batch-size`,
 * or the default of `batchSize` for windows of the context) and the memory use to check for it.
 */
export function scoringPlan(
  length: number,
  config: NeoXConfig,
  dtype: WeightDtype,
  options: { stride?: number; batchSize?: number; memoryBudget?: number | 'none' },
): { batch: number; use: MemoryUse } {
  const { window, stride } = windowAndStride(config.maxPositions, { stride: options.stride });
  const windows = slidingWindows(length, window, stride).length;
  const perWindow = { tokens: Math.min(window, length), logits: 'scored' as const };
  const batch = batchSize(options.batchSize, config, dtype, perWindow, options.memoryBudget);
  return { batch, use: { ...perWindow, sequences: Math.max(1, Math.min(batch, windows)) } };
}

/**
 * Scores every token of a text of any length with the windows of {@link slidingWindows}. The
 * windows are independent, so `batchSize` of them run at once as one packed batch (each attends
 * only to itself: the same numbers as one at a time), scored on the GPU: only a log-probability
 * per token comes back, never the logits.
 */
export async function scoreText(
  model: NeoXModel,
  ids: readonly number[],
  options: { window?: number; stride?: number; batchSize?: number } = {},
): Promise<TextScore> {
  const { window, stride } = windowAndStride(model.config.maxPositions, options);
  const batchSize = Math.max(1, options.batchSize ?? 1);
  const windows = slidingWindows(ids.length, window, stride);
  const logprobs = new Float64Array(Math.max(0, ids.length - 1));
  for (let b = 0; b < windows.length; b += batchSize) {
    const batch = windows.slice(b, b + batchSize);
    const scores = await tokenLogprobs(
      model,
      batch.map((w) => ids.slice(w.start, w.end)),
    );
    batch.forEach((w, i) => {
      // scores[i][j] predicts ids[w.start + j + 1]; keep the tokens from w.first on.
      const own = scores[i]!.subarray(w.first - w.start - 1);
      logprobs.set(own, w.first - 1);
    });
  }
  let sum = 0;
  for (const lp of logprobs) sum += lp;
  const loss = logprobs.length > 0 ? -sum / logprobs.length : Number.NaN;
  return { logprobs, loss, perplexity: Math.exp(loss) };
}
