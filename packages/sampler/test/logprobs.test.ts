import { describe, expect, it } from 'vitest';
import { createSampler, logSoftmaxAt } from '../src/index.js';
import { history, row } from './helpers.js';

describe('logprob and alternatives', () => {
  // Raw row [1, 3, 2, 3]: log Z = 3 + ln(2 + e^-1 + e^-2) = 3 + ln 2.503215 = 3.9175758.
  const logits = row([1, 3, 2, 3]);
  const logZ = 3 + Math.log(2 + Math.exp(-1) + Math.exp(-2));

  it('is the log-softmax of the raw row, whatever the processors and warpers did', () => {
    const sample = createSampler({
      temperature: 0.3,
      topK: 2,
      repetitionPenalty: 1.5,
      logitBias: { 0: 1 },
      seed: 1,
    });
    const { id, logprob } = sample(logits, history([1], 1));
    expect(logprob).toBeCloseTo(logits[id]! - logZ, 12);
    expect(logSoftmaxAt(logits, 1)).toBeCloseTo(3 - 3.9175758, 6);
  });

  it('has no alternatives unless topLogprobs is set', () => {
    expect('alternatives' in createSampler({ seed: 1 })(logits)).toBe(false);
  });

  it('topLogprobs: n lists the n most likely raw tokens, ties by ascending id', () => {
    const token = createSampler({ topLogprobs: 3, temperature: 0, suppressTokens: [1] })(logits);
    expect(token.id).toBe(3); // 1 is suppressed for sampling ...
    // ... but the alternatives describe the model's distribution, where it ties for first.
    expect(token.alternatives?.map((a) => a.id)).toEqual([1, 3, 2]);
    expect(token.alternatives?.[0]?.logprob).toBeCloseTo(3 - logZ, 12);
    expect(token.alternatives?.[2]?.logprob).toBeCloseTo(2 - logZ, 12);
  });

  it('topLogprobs larger than the row lists the whole row', () => {
    const token = createSampler({ topLogprobs: 10, seed: 1 })(logits);
    expect(token.alternatives?.map((a) => a.id)).toEqual([1, 3, 2, 0]);
    const total = token.alternatives!.reduce((s, a) => s + Math.exp(a.logprob), 0);
    expect(total).toBeCloseTo(1, 12);
  });

  it('works on a 50 304-wide row', () => {
    const wide = new Float32Array(50_304);
    wide[40_000] = 5;
    wide[123] = 4;
    const { alternatives } = createSampler({ topLogprobs: 3, seed: 1 })(wide);
    expect(alternatives?.map((a) => a.id)).toEqual([40_000, 123, 0]);
    // log Z = ln(e^5 + e^4 + 50 302).
    const z = Math.log(Math.exp(5) + Math.exp(4) + 50_302);
    expect(alternatives?.[0]?.logprob).toBeCloseTo(5 - z, 9);
  });
});
