/**
 * GPT-2's byte-level alphabet: every byte 0–255 gets a printable character so BPE vocabularies can
 * be stored as text. Printable Latin-1 bytes map to themselves; the 68 others (controls, space,
 * DEL, NBSP, soft hyphen) are shifted to U+0100 and up in byte order, so space (0x20) is 'Ġ'
 * (U+0120) and newline (0x0A) is 'Ċ' (U+010A).
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const chars: string[] = [];
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    chars.push(String.fromCharCode(printable ? b : 256 + shifted++));
  }
  return chars;
})();

/** Inverse of {@link BYTE_TO_CHAR}, keyed by UTF-16 code unit (all 256 characters are in the BMP). */
export const CHAR_TO_BYTE: ReadonlyMap<number, number> = new Map(
  BYTE_TO_CHAR.map((c, b) => [c.charCodeAt(0), b]),
);

/** The byte-level spelling of a UTF-8 byte sequence, e.g. bytes of " hi" → "Ġhi". */
export function bytesToByteLevel(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += BYTE_TO_CHAR[b];
  return s;
}

/**
 * The bytes a byte-level token stands for, or `undefined` when some character is outside the
 * alphabet (added tokens such as a run of plain spaces are stored as raw text).
 */
export function byteLevelToBytes(token: string): Uint8Array | undefined {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const b = CHAR_TO_BYTE.get(token.charCodeAt(i));
    if (b === undefined) return undefined;
    out[i] = b;
  }
  return out;
}
