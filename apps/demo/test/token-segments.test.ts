import { describe, expect, it } from 'vitest';
import { type Segment, tokenSegments } from '../src/token-segments.js';

/** The text each token is drawn over, as the page shows it. */
const drawn = (segments: Segment[]): string[] =>
  segments.map((segment) => (segment.kind === 'token' ? segment.text : `(${segment.text})`));

// Offsets below are what @pythiajs/tokenizer (and Hugging Face tokenizers) give for these inputs.
describe('tokenSegments', () => {
  it('draws each word with the space trimmed from its start', () => {
    // 'Hello', ',', 'ĠI', 'Ġam'
    const segments = tokenSegments('Hello, I am', [
      [0, 5],
      [5, 6],
      [7, 8],
      [9, 11],
    ]);
    expect(drawn(segments)).toEqual(['Hello', ',', ' I', ' am']);
    expect(segments.map((segment) => segment.kind === 'token' && segment.index)).toEqual([
      0, 1, 2, 3,
    ]);
  });

  it('gives an all-space token, whose range is trimmed to nothing, its spaces back', () => {
    // 'a', '    ', 'b'
    expect(
      drawn(
        tokenSegments('a    b', [
          [0, 1],
          [5, 5],
          [5, 6],
        ]),
      ),
    ).toEqual(['a', '    ', 'b']);
  });

  it('keeps one segment per token when several tokens share one character', () => {
    // 'Ġthis', 'Ġis', 'ĠðŁ', '¦', 'Ļ', '.', 'cpp': the llama emoji is three byte tokens
    const offsets: Array<[number, number]> = [
      [1, 5],
      [6, 8],
      [9, 11],
      [9, 11],
      [9, 11],
      [11, 12],
      [12, 15],
    ];
    expect(drawn(tokenSegments(' this is 🦙.cpp', offsets))).toEqual([
      ' this',
      ' is',
      ' 🦙',
      '',
      '',
      '.',
      'cpp',
    ]);
  });

  it('draws input after the last token as plain text', () => {
    expect(drawn(tokenSegments('ab  ', [[0, 2]]))).toEqual(['ab', '(  )']);
  });

  it('draws nothing for empty input', () => {
    expect(tokenSegments('', [])).toEqual([]);
  });
});
