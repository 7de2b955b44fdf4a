import { CodePointSet } from './code-point-ranges.js';
import { LETTER_RANGES, NUMBER_RANGES } from './unicode-ranges.js';

/** The character classes the GPT-2 split pattern distinguishes. */
export type CharClass = typeof OTHER | typeof LETTER | typeof NUMBER | typeof WHITESPACE;
export const OTHER = 0;
export const LETTER = 1;
export const NUMBER = 2;
export const WHITESPACE = 3;

/**
 * Oniguruma's `\s` in Unicode mode, which Hugging Face tokenizers uses: the White_Space property.
 * Unlike JavaScript's `\s` it includes U+0085 (NEL) and excludes U+FEFF (BOM).
 */
const WHITE_SPACE_PROPERTY = [
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004,
  0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
];

let letters: CodePointSet | undefined;
let numbers: CodePointSet;
let bmp: Uint8Array;

/** The class of every BMP code point, built on first use (64 KiB, well under a millisecond). */
export function bmpClasses(): Uint8Array {
  if (letters) return bmp;
  letters = new CodePointSet(LETTER_RANGES);
  numbers = new CodePointSet(NUMBER_RANGES);
  const table = new Uint8Array(0x10000);
  const isLetter = letters.bmpTable();
  const isNumber = numbers.bmpTable();
  for (let cp = 0; cp < 0x10000; cp++) {
    table[cp] = isLetter[cp] ? LETTER : isNumber[cp] ? NUMBER : OTHER;
  }
  for (const cp of WHITE_SPACE_PROPERTY) table[cp] = WHITESPACE;
  bmp = table;
  return table;
}

/** Class of any code point (surrogate halves are never passed: input is well-formed). */
export function charClass(cp: number): CharClass {
  const table = bmpClasses();
  if (cp <= 0xffff) return table[cp] as CharClass;
  if (letters!.has(cp)) return LETTER;
  if (numbers.has(cp)) return NUMBER;
  return OTHER;
}
