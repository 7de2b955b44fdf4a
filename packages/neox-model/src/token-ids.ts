import type { NeoXConfig } from './config.js';
import { ContextOverflowError, InvalidInputError, TokenOutOfVocabularyError } from './errors.js';

/** Options of {@link checkTokenIds}. */
export interface CheckTokenIdsOptions {
  /**
   * Positions left for these ids: the context (the default) less what a KV cache already holds
   * or what is kept free for tokens still to be generated. `Infinity` checks the vocabulary
   * only, for a text that is then read in windows.
   */
  room?: number;
}

/**
 * Checks token ids against a model before any work is done with them: at least one, each an
 * integer in `[0, vocabSize)` (Pythia's logits are wider than its tokenizer, so an id can be
 * valid for one and not the other), and no more than `room` of them. What `forward` checks, and
 * what a caller can check from `config.json` alone before the weights are downloaded.
 *
 * @example
 * ```ts
 * const config = parseNeoXConfig(configJson);
 * checkTokenIds(tokenizer.encode(prompt), config, { room: config.maxPositions - maxNewTokens });
 * ```
 * @returns the ids as a `Uint32Array`, as the GPU takes them.
 * @throws {InvalidInputError} no ids.
 * @throws {TokenOutOfVocabularyError} an id outside the vocabulary, named with its position.
 * @throws {ContextOverflowError} more ids than `room`.
 */
export function checkTokenIds(
  ids: ArrayLike<number>,
  config: Pick<NeoXConfig, 'vocabSize' | 'maxPositions'>,
  options: CheckTokenIdsOptions = {},
): Uint32Array {
  if (ids.length === 0) throw new InvalidInputError('the input is empty; give at least one token');
  const out = new Uint32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= config.vocabSize)
      throw new TokenOutOfVocabularyError(id, i, config.vocabSize);
    out[i] = id;
  }
  const room = Math.max(0, options.room ?? config.maxPositions);
  if (ids.length > room) throw new ContextOverflowError(ids.length, room, config.maxPositions);
  return out;
}
