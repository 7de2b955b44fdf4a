import { byteLevelPreTokenizer, nfcNormalizer, nfkcNormalizer } from 'tokenizers';
import { describe, expect, it } from 'vitest';
import { charClass, LETTER, NUMBER, WHITESPACE } from '../src/char-class.js';
import { normalize } from '../src/normalize.js';

function* codePoints(from = 0) {
  for (let cp = from; cp < 0x110000; cp++) if (cp < 0xd800 || cp > 0xdfff) yield cp;
}

describe('Unicode as Hugging Face tokenizers sees it', () => {
  // Its pre-tokenizer splits "a"+c into one piece iff c is a letter (\p{L}), "1"+c iff a number
  // (\p{N}), and "x"+ccc+"y" into x|cc|c|y iff c is whitespace (\s): probes of its classes.
  it("gives every code point the GPT-2 pattern's class the reference gives it (Unicode 16.0)", () => {
    const reference = byteLevelPreTokenizer(false, true);
    const wrong: string[] = [];
    for (const cp of codePoints()) {
      const c = String.fromCodePoint(cp);
      const letter = reference.preTokenizeString(`a${c}`).length === 1;
      const number = reference.preTokenizeString(`1${c}`).length === 1;
      const space =
        !letter && !number && reference.preTokenizeString(`x${c}${c}${c}y`).length === 4;
      const ours = charClass(cp);
      if (
        letter !== (ours === LETTER) ||
        number !== (ours === NUMBER) ||
        (cp !== 0x20 && space !== (ours === WHITESPACE))
      ) {
        wrong.push(cp.toString(16));
      }
    }
    expect(wrong).toEqual([]);
  });

  // Each code point next to marks of combining class 1, 220, 230 and 240, after a starter that
  // composes, and doubled: every way reordering and composition can involve it.
  const contexts = (c: string) => [
    `a${c}`,
    `${c}\u0301`,
    `a${c}\u0323`,
    `a\u0323${c}`,
    `a${c}\u0334`,
    `a\u0334${c}`,
    `a${c}\u0301`,
    `${c}${c}`,
    `\u1100${c}`,
    `${c}\u0345`,
    `e\u0301${c}`,
  ];
  for (const [form, reference] of [
    ['NFC', nfcNormalizer()],
    ['NFKC', nfkcNormalizer()],
  ] as const) {
    it(`normalizes to ${form} like the reference (Unicode 9.0 data) around every code point`, () => {
      const wrong: string[] = [];
      for (const cp of codePoints(0x80)) {
        for (const text of contexts(String.fromCodePoint(cp))) {
          if (normalize(text, form) !== reference.normalizeString(text)) {
            wrong.push(cp.toString(16));
            break;
          }
        }
      }
      expect(wrong).toEqual([]);
    });
  }
});
