import { describe, expect, it } from 'vitest';
import { topTokens } from '../src/worker/top-tokens.js';

describe('topTokens', () => {
  it('gives the k most likely ids, best first, with softmax probabilities', () => {
    const logits = Float32Array.from([0, Math.log(3), Math.log(2), 0]);
    const top = topTokens(logits, 2);
    expect(top.map((t) => t.id)).toEqual([1, 2]);
    expect(top[0]!.prob).toBeCloseTo(3 / 7, 6);
    expect(top[1]!.prob).toBeCloseTo(2 / 7, 6);
  });

  it('breaks ties by the lower id', () => {
    expect(topTokens(Float32Array.from([1, 5, 5, 5]), 2).map((t) => t.id)).toEqual([1, 2]);
  });

  it('leaves out padded ids past the tokenizer, and normalises over the rest', () => {
    const logits = Float32Array.from([0, 0, 100]);
    const top = topTokens(logits, 3, 2);
    expect(top.map((t) => t.id)).toEqual([0, 1]);
    expect(top[0]!.prob).toBeCloseTo(0.5, 6);
  });
});
