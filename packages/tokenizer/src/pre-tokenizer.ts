import { bmpClasses, charClass, WHITESPACE } from './char-class.js';

/**
 * Splits `text[start, end)` exactly as GPT-2's pattern does in Hugging Face tokenizers' ByteLevel
 * pre-tokenizer:
 *
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *
 * and appends the end index of each piece to `ends` (pieces are contiguous and cover the range).
 *
 * Hand-written instead of a RegExp for two reasons: `\p{L}`/`\p{N}`/`\s` must follow the
 * reference's Unicode 16.0 Oniguruma classes rather than the engine's, and a table-driven scan is
 * several times faster. The input must be well-formed UTF-16 (no lone surrogates).
 */
export function splitGpt2(text: string, start: number, end: number, ends: number[]): void {
  const table = bmpClasses();
  let i = start;
  while (i < end) {
    const c = text.charCodeAt(i);

    // 's 't 'm 'd 're 've 'll — case-sensitive, only at the start of a match.
    if (c === 0x27 && i + 1 < end) {
      const n = text.charCodeAt(i + 1);
      if (n === 0x73 || n === 0x74 || n === 0x6d || n === 0x64) {
        i += 2;
        ends.push(i);
        continue;
      }
      if (i + 2 < end) {
        const n2 = text.charCodeAt(i + 2);
        if ((n2 === 0x65 && (n === 0x72 || n === 0x76)) || (n === 0x6c && n2 === 0x6c)) {
          i += 3;
          ends.push(i);
          continue;
        }
      }
    }

    // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional plain space, then a run of one class.
    const j = c === 0x20 && i + 1 < end ? i + 1 : i;
    const cls = classAt(text, j, table);
    if (cls !== WHITESPACE) {
      i = skipRun(text, j, end, cls, table);
      ends.push(i);
      continue;
    }

    // `\s+(?!\S)` then `\s+`: a whitespace run leaves its last character to prefix the next word,
    // unless the run ends the text or is a single character.
    const k = skipRun(text, i, end, WHITESPACE, table);
    i = k < end && k - i > 1 ? k - 1 : k;
    ends.push(i);
  }
}

function classAt(text: string, i: number, table: Uint8Array): number {
  const c = text.charCodeAt(i);
  return (c & 0xfc00) === 0xd800 ? charClass(text.codePointAt(i)!) : table[c]!;
}

/** End of the run of `cls` characters starting at `i`. Whitespace is all in the BMP. */
function skipRun(text: string, i: number, end: number, cls: number, table: Uint8Array): number {
  while (i < end) {
    const c = text.charCodeAt(i);
    if ((c & 0xfc00) === 0xd800) {
      if (cls === WHITESPACE || charClass(text.codePointAt(i)!) !== cls) break;
      i += 2;
    } else {
      if (table[c] !== cls) break;
      i++;
    }
  }
  return i;
}
