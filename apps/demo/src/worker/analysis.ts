import {
  attentionPatterns,
  logitLens,
  type NeoXModel,
  NO_RANK,
  tokenLogprobs,
} from '@pythiajs/neox-model';
import type { Tokenizer } from '@pythiajs/tokenizer';
import type { Analysis } from './protocol.js';
import { tokenText } from './token-text.js';

/**
 * Tokens analysed at most: the attention views grow with the square of the length and stop
 * being readable long before a GPU notices.
 */
export const MAX_ANALYSIS_TOKENS = 48;

/** Likeliest tokens the lens gives per layer and position. */
export const LENS_TOP_K = 5;

/** The prompt's ids, cut to what the views can show. */
export function analysisIds(tokenizer: Tokenizer, text: string): number[] {
  const ids = tokenizer.encode(text).slice(0, MAX_ANALYSIS_TOKENS);
  if (ids.length === 0) throw new Error('The prompt is empty: type some text to analyse.');
  return ids;
}

/**
 * What the model does with the prompt: every layer's attention pattern (`hook_pattern`), the
 * logit lens (what the residual stream would predict after each layer: its top 5, and how likely
 * it finds the actual next token) and the loss of each token given the ones before it.
 */
export async function analyze(
  model: NeoXModel,
  tokenizer: Tokenizer,
  text: string,
): Promise<Analysis> {
  const ids = analysisIds(tokenizer, text);
  const patterns = await attentionPatterns(model, ids);
  const lens = await logitLens(model, ids, { topK: LENS_TOP_K, tokens: 'next' });
  const logprobs = await tokenLogprobs(model, ids);
  return {
    ids,
    tokens: ids.map((id) => tokenText(tokenizer, id)),
    attention: patterns.map((pattern) => pattern.data),
    heads: model.config.numHeads,
    lens: lens.map((layer) => ({
      name: layer.name,
      top: layer.topIds.map((id, position) => ({
        id,
        text: tokenText(tokenizer, id),
        prob: layer.topProbs[position]!,
      })),
      topK: ids.map((_, position) =>
        Array.from(
          layer.topK!.ids.subarray(position * LENS_TOP_K, (position + 1) * LENS_TOP_K),
          (id, j) => ({
            id,
            text: tokenText(tokenizer, id),
            prob: layer.topK!.probs[position * LENS_TOP_K + j]!,
          }),
        ),
      ),
      next: ids.map((_, position) => {
        const rank = layer.chosen!.rank[position]!;
        return rank === NO_RANK ? null : { prob: layer.chosen!.prob[position]!, rank };
      }),
    })),
    losses: Array.from(logprobs, (logprob) => -logprob),
  };
}
