import { describe, expect, it } from 'vitest';
import { argmax, createSampler, logSoftmaxAt } from '../src/index.js';

/** Logits whose softmax is exactly `probs`. */
const logitsOf = (probs: number[]) => Float32Array.from(probs, Math.log);

function counts(
  sample: (l: Float32Array) => { id: number },
  logits: Float32Array,
  n: number,
): number[] {
  const c = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < n; i++) c[sample(logits).id]!++;
  return c;
}

describe('greedy decoding', () => {
  it('takes the largest logit, the first on ties, with its log-softmax', () => {
    const logits = Float32Array.from([1, 3, 2, 3]);
    expect(argmax(logits)).toBe(1);
    const { id, logprob } = createSampler({ temperature: 0 })(logits);
    expect(id).toBe(1);
    // log(e^3 / (e^1 + 2e^3 + e^2)), by hand.
    expect(logprob).toBeCloseTo(3 - Math.log(Math.exp(1) + 2 * Math.exp(3) + Math.exp(2)), 12);
  });

  it('is what top-k = 1 does at any temperature and seed', () => {
    const logits = Float32Array.from([0.1, -2, 0.3, 0.29]);
    for (const seed of [1, 2, 3])
      expect(createSampler({ topK: 1, temperature: 5, seed })(logits).id).toBe(2);
  });
});

describe('sampling', () => {
  it('draws from softmax(logits / T): chi-square over 20 000 draws stays under the p = 0.001 critical value', () => {
    const probs = [0.1, 0.2, 0.3, 0.4];
    const n = 20_000;
    const observed = counts(createSampler({ seed: 1234 }), logitsOf(probs), n);
    const chi2 = observed.reduce((s, o, i) => s + (o - n * probs[i]!) ** 2 / (n * probs[i]!), 0);
    expect(chi2).toBeLessThan(16.27); // 3 degrees of freedom
  });

  it('sharpens with a low temperature: T = 0.5 squares the probabilities before renormalizing', () => {
    const probs = [0.2, 0.8];
    const n = 20_000;
    const observed = counts(createSampler({ temperature: 0.5, seed: 9 }), logitsOf(probs), n);
    const expected = [0.04 / 0.68, 0.64 / 0.68];
    const chi2 = observed.reduce(
      (s, o, i) => s + (o - n * expected[i]!) ** 2 / (n * expected[i]!),
      0,
    );
    expect(chi2).toBeLessThan(10.83); // 1 degree of freedom
  });

  it('top-k keeps only the k most likely tokens', () => {
    const observed = counts(
      createSampler({ topK: 2, seed: 5 }),
      logitsOf([0.4, 0.1, 0.3, 0.2]),
      5000,
    );
    expect(observed[1]).toBe(0);
    expect(observed[3]).toBe(0);
    expect(observed[0]! + observed[2]!).toBe(5000);
  });

  it('top-p keeps the smallest most-likely set reaching p, as Hugging Face does', () => {
    const logits = logitsOf([0.2, 0.5, 0.3]);
    // Mass before 0.5 is 0, before 0.3 is 0.5, before 0.2 is 0.8.
    expect(counts(createSampler({ topP: 0.5, seed: 1 }), logits, 2000)).toEqual([0, 2000, 0]);
    const p6 = counts(createSampler({ topP: 0.6, seed: 1 }), logits, 2000);
    expect(p6[0]).toBe(0);
    expect(p6[1]! > 0 && p6[2]! > 0).toBe(true);
    expect(counts(createSampler({ topP: 0.81, seed: 1 }), logits, 4000).every((c) => c > 0)).toBe(
      true,
    );
  });

  it('repeats the same tokens for the same seed', () => {
    const logits = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
    const a = createSampler({ seed: 77, topP: 0.9 });
    const b = createSampler({ seed: 77, topP: 0.9 });
    const first = Array.from({ length: 50 }, () => a(logits).id);
    expect(Array.from({ length: 50 }, () => b(logits).id)).toEqual(first);
    expect(new Set(first).size).toBeGreaterThan(5);
  });

  it('reports the logprob under the unprocessed distribution', () => {
    const logits = logitsOf([0.25, 0.75]);
    const { id, logprob } = createSampler({ temperature: 0.1, seed: 3 })(logits);
    expect(logprob).toBeCloseTo(logSoftmaxAt(logits, id), 12);
    expect(logprob).toBeCloseTo(Math.log([0.25, 0.75][id]!), 6);
  });

  it('rejects options out of range with a message naming the option', () => {
    expect(() => createSampler({ temperature: -1 })).toThrow(/temperature must be/);
    expect(() => createSampler({ topK: 1.5 })).toThrow(/topK must be/);
    expect(() => createSampler({ topP: 0 })).toThrow(/topP must be in \(0, 1\]/);
    expect(() => createSampler()(new Float32Array(0))).toThrow(/empty row/);
  });
});
