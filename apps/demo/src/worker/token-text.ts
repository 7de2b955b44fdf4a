import type { Tokenizer } from '@pythiajs/tokenizer';
import type { Candidate } from './protocol.js';

/**
 * One token as text. A token that is only part of a UTF-8 character decodes to nothing on its
 * own, and ids past the tokenizer (Pythia's padded logits) have no text: those show their
 * byte-level spelling or their id, so a cell is never blank.
 */
export function tokenText(tokenizer: Tokenizer, id: number): string {
  const text = tokenizer.decode([id]);
  if (text !== '' && !text.includes('\uFFFD')) return text;
  return tokenizer.idToToken(id) ?? `#${id}`;
}

export function candidates(
  tokenizer: Tokenizer,
  top: ReadonlyArray<{ id: number; prob: number }>,
): Candidate[] {
  return top.map(({ id, prob }) => ({ id, prob, text: tokenText(tokenizer, id) }));
}
