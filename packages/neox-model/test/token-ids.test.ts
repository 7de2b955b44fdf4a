import { describe, expect, it } from 'vitest';
import {
  ContextOverflowError,
  checkTokenIds,
  ForwardError,
  InvalidInputError,
  TokenOutOfVocabularyError,
} from '../src/index.js';

// Pythia's shape: logits 50 304 wide, a context of 2048 positions.
const pythia = { vocabSize: 50_304, maxPositions: 2048 };

describe('checkTokenIds: what a forward pass can take, checkable from config.json alone', () => {
  it('returns the ids as the Uint32Array the GPU takes', () => {
    expect(checkTokenIds([12092, 13, 309, 717], pythia)).toEqual(
      Uint32Array.of(12092, 13, 309, 717),
    );
  });

  it('refuses an empty input', () => {
    expect(() => checkTokenIds([], pythia)).toThrow(
      new InvalidInputError('the input is empty; give at least one token'),
    );
  });

  it('refuses an id outside the vocabulary, naming it and its position', () => {
    const error = (() => {
      try {
        checkTokenIds([5, 50_304], pythia);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(TokenOutOfVocabularyError);
    expect(error).toMatchObject({ id: 50_304, position: 1, vocabSize: 50_304 });
    expect((error as Error).message).toBe(
      "token id 50304 at position 1 is outside the model's vocabulary of 50304 ids (0 to 50303)",
    );
    for (const bad of [-1, 1.5, Number.NaN])
      expect(() => checkTokenIds([bad], pythia)).toThrow(TokenOutOfVocabularyError);
  });

  it('refuses more ids than the context, or than the room left in it', () => {
    const ids = new Array<number>(2049).fill(5);
    expect(() => checkTokenIds(ids, pythia)).toThrow(
      'the input is 2049 tokens but the model reads at most 2048 here (its context is 2048); ' +
        'shorten it, or slide a window over it (pythia score does)',
    );
    // A KV cache holding 2040 positions leaves room for 8.
    expect(() => checkTokenIds(ids.slice(0, 9), pythia, { room: 8 })).toThrow(ContextOverflowError);
    expect(checkTokenIds(ids.slice(0, 8), pythia, { room: 8 })).toHaveLength(8);
    // A text read in windows: the vocabulary alone.
    expect(checkTokenIds(ids, pythia, { room: Number.POSITIVE_INFINITY })).toHaveLength(2049);
  });

  it('throws errors of input, which are forward errors', () => {
    expect(new ContextOverflowError(3, 2, 2)).toBeInstanceOf(InvalidInputError);
    expect(new TokenOutOfVocabularyError(9, 0, 8)).toBeInstanceOf(ForwardError);
  });
});
