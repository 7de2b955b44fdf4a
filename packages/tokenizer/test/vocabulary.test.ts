import { describe, expect, it } from 'vitest';
import { InvalidTokenIdError } from '../src/index.js';
import { neox } from './fixtures.js';

describe('the GPT-NeoX-20B vocabulary', () => {
  it('has 50277 tokens, with <|endoftext|> = 0 as EOS and BOS', () => {
    expect(neox.vocabSize).toBe(50277);
    expect(neox.eosTokenId).toBe(0);
    expect(neox.bosTokenId).toBe(0);
    expect([...neox.specialTokenIds].sort()).toEqual([0, 1]);
  });

  it('maps ids and byte-level token strings both ways', () => {
    expect(neox.idToToken(12092)).toBe('Hello');
    expect(neox.idToToken(309)).toBe('ĠI');
    expect(neox.tokenToId('ĠI')).toBe(309);
    expect(neox.tokenToId('<|padding|>')).toBe(1);
    expect(neox.idToToken(50276)).toBe('  ');
    expect(neox.tokenToId('    ')).toBe(50274);
    expect(neox.idToToken(50277)).toBeUndefined();
    expect(neox.tokenToId('no such token')).toBeUndefined();
  });

  it('splits out special tokens and the 23 whitespace-run tokens before BPE', () => {
    expect(neox.encode('<|endoftext|>Hello<|endoftext|>')).toEqual([0, 12092, 0]);
    expect(neox.encode('a    b')).toEqual([66, 50274, 67]);
    // 30 spaces: the longest run token (24 spaces, id 50254) first, then 6 (50272).
    expect(neox.encode(`x${' '.repeat(30)}y`)).toEqual([89, 50254, 50272, 90]);
  });

  it('skips special tokens on request and decodes ids without a token to nothing', () => {
    expect(neox.decode([0, 12092, 1])).toBe('<|endoftext|>Hello<|padding|>');
    expect(neox.decode([0, 12092, 1], { skipSpecialTokens: true })).toBe('Hello');
    // Pythia's logits are 50304 wide; rows past the vocabulary have no token.
    expect(neox.decode([12092, 50280, 50303])).toBe('Hello');
  });

  it('turns lone surrogates into U+FFFD, as crossing into UTF-8 does', () => {
    expect(neox.encode('ab\ud800cd')).toEqual(neox.encode('ab\ufffdcd'));
  });

  it('returns ids as a Uint32Array on request', () => {
    const ids = neox.encodeToUint32Array('Hello, I am');
    expect(ids).toBeInstanceOf(Uint32Array);
    expect([...ids]).toEqual([12092, 13, 309, 717]);
  });

  it('encodes a batch like one text at a time', () => {
    expect(neox.encodeBatch(['Hello, I am', '', 'a    b'])).toEqual([
      [12092, 13, 309, 717],
      [],
      [66, 50274, 67],
    ]);
  });

  it('offsets cover whole input characters when normalization composes them', () => {
    const text = 'cafe\u0301 ok';
    const { ids, offsets } = neox.encodeWithOffsets(text);
    expect(ids).toEqual(neox.encode('café ok'));
    expect(offsets[offsets.length - 1]).toEqual([6, 8]);
    expect(text.slice(offsets[0]![0], offsets[offsets.length - 2]![1])).toBe('cafe\u0301');
  });

  it('rejects ids that are not non-negative integers', () => {
    expect(() => neox.decode([1.5])).toThrow(InvalidTokenIdError);
    expect(() => neox.decode([-1])).toThrow(/not a non-negative integer/);
    expect(() => neox.idToToken(Number.NaN)).toThrow(InvalidTokenIdError);
  });
});
