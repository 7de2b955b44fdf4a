import type { Tokenizer } from '@pythiajs/tokenizer';

/** A token as the CLI prints it. */
export interface TokenLabel {
  /**
   * The text the token decodes to; for a token that is only part of a UTF-8 character (byte-level
   * BPE splits rare characters across tokens), its byte-level spelling from the vocabulary, as
   * Hugging Face's `convert_ids_to_tokens` gives it (`âĢ` for the bytes E2 80 that begin "—").
   */
  text: string;
  /** `text` is the byte-level spelling of part of a character, not text. */
  partial: boolean;
}

/**
 * One token on its own, as text where it is text. Decoding part of a UTF-8 character alone gives
 * U+FFFD, the same "�" for every such token, which says nothing about which bytes it holds; its
 * byte-level spelling does, and is what Python shows for it.
 */
export function tokenLabel(tokenizer: Tokenizer, id: number): TokenLabel {
  const text = tokenizer.decode([id]);
  const spelling = tokenizer.idToToken(id);
  // Lossy exactly when the decoded text is not the token's bytes: each character of a byte-level
  // spelling stands for one byte. (The token for "�" itself decodes losslessly.)
  const lossy =
    text.includes('\uFFFD') &&
    spelling !== undefined &&
    new TextEncoder().encode(text).length !== spelling.length;
  return lossy ? { text: spelling, partial: true } : { text, partial: false };
}

/** A token for a table: text quoted (spaces and newlines visible), a byte-level spelling in ⟨ ⟩. */
export function showToken(label: TokenLabel): string {
  return label.partial ? `⟨${label.text}⟩` : JSON.stringify(label.text);
}
