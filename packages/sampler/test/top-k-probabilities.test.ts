import { describe, expect, it } from 'vitest';
import { createSampler, logSoftmax, logSoftmaxAt, topKWithProbabilities } from '../src/index.js';
import { row } from './helpers.js';

describe('logSoftmax', () => {
  it('is the row minus log Σ exp(row), in float64', () => {
    const out = logSoftmax([0, Math.log(3)]);
    expect(out).toBeInstanceOf(Float64Array);
    expect(out[0]).toBeCloseTo(Math.log(0.25), 14);
    expect(out[1]).toBeCloseTo(Math.log(0.75), 14);
  });

  it('stays finite for logits far beyond exp’s range, and agrees with logSoftmaxAt', () => {
    const logits = row([1000, 999, -1000]);
    const out = logSoftmax(logits);
    expect(out[0]).toBeCloseTo(-Math.log(1 + Math.exp(-1)), 12);
    for (let i = 0; i < 3; i++) expect(out[i]).toBe(logSoftmaxAt(logits, i));
  });

  it('gives −∞ where the row is −∞ (a masked token)', () => {
    expect(logSoftmax([0, Number.NEGATIVE_INFINITY])[1]).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe('topKWithProbabilities', () => {
  it('gives the k most likely ids, best first, with softmax probabilities and their logs', () => {
    const top = topKWithProbabilities(row([0, Math.log(3), Math.log(2), 0]), 2);
    expect(top.map((t) => t.id)).toEqual([1, 2]);
    expect(top[0]!.prob).toBeCloseTo(3 / 7, 6);
    expect(top[1]!.prob).toBeCloseTo(2 / 7, 6);
    expect(top[0]!.logprob).toBeCloseTo(Math.log(3 / 7), 6);
  });

  it('breaks ties by the lower id', () => {
    expect(topKWithProbabilities(row([1, 5, 5, 5]), 2).map((t) => t.id)).toEqual([1, 2]);
  });

  it('lists the whole row, best first, when k is larger than it', () => {
    const top = topKWithProbabilities(row([1, 3, 2, 3]), 10);
    expect(top.map((t) => t.id)).toEqual([1, 3, 2, 0]);
    expect(top.reduce((s, t) => s + t.prob, 0)).toBeCloseTo(1, 12);
  });

  it('leaves out padded ids past vocabSize, and normalises over the rest', () => {
    const top = topKWithProbabilities(row([0, 0, 100]), 3, { vocabSize: 2 });
    expect(top.map((t) => t.id)).toEqual([0, 1]);
    expect(top[0]!.prob).toBeCloseTo(0.5, 12);
  });

  it('agrees with the sampler’s topLogprobs on a Pythia-wide row', () => {
    const wide = Float32Array.from({ length: 50_304 }, (_, i) => Math.sin(i * 12.9898) * 8);
    const top = topKWithProbabilities(wide, 5);
    const { alternatives } = createSampler({ temperature: 0, topLogprobs: 5 })(wide);
    expect(top.map((t) => t.id)).toEqual(alternatives!.map((a) => a.id));
    for (const [i, t] of top.entries())
      expect(t.logprob).toBeCloseTo(alternatives![i]!.logprob, 12);
  });

  it('refuses a k that is not a count', () => {
    expect(() => topKWithProbabilities(row([1]), -1)).toThrow(RangeError);
    expect(() => topKWithProbabilities(row([1]), 1.5)).toThrow(/k must be an integer/);
  });
});
