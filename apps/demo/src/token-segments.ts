/** A run of the input drawn as one piece of the token view. */
export type Segment =
  /** Token `index` drawn over `text` (empty when earlier tokens already drew all its characters). */
  | { kind: 'token'; index: number; text: string }
  /** Input no token covers. */
  | { kind: 'text'; text: string };

/**
 * Cuts `text` into the pieces the token view draws, from the tokenizer's `[start, end)` offsets.
 *
 * Two properties of byte-level BPE offsets shape this:
 * - They are trimmed like Hugging Face's `trim_offsets`: the space a token such as `ĠI` starts with
 *   is left out, and an all-space token (`'    '`) shrinks to an empty range at its end. Such
 *   uncovered input always precedes the token it was trimmed from, so it is drawn with the next
 *   token, which shows `ĠI` as " I" and makes space tokens visible.
 * - Several tokens can share one character (the bytes of an emoji), all with the same range. The
 *   first draws the character and the others come out empty, still one segment per token.
 */
export function tokenSegments(
  text: string,
  offsets: ReadonlyArray<readonly [number, number]>,
): Segment[] {
  const segments: Segment[] = [];
  let drawn = 0;
  offsets.forEach(([, end], index) => {
    const to = Math.min(Math.max(end, drawn), text.length);
    segments.push({ kind: 'token', index, text: text.slice(drawn, to) });
    drawn = to;
  });
  if (drawn < text.length) segments.push({ kind: 'text', text: text.slice(drawn) });
  return segments;
}
