import { describe, expect, it } from 'vitest';
import { createSampler } from '../src/index.js';
import { counts, logitsOf, NEG, row } from './helpers.js';

/** The ids a sampler keeps (finite entries of its processed row). */
const kept = (processed: Float64Array) =>
  Array.from(processed).flatMap((x, i) => (x === NEG ? [] : [i]));

describe('temperature (Hugging Face TemperatureLogitsWarper)', () => {
  it('divides the logits by the temperature', () => {
    expect(Array.from(createSampler({ temperature: 0.5 }).process(row([1, 2, -4])))).toEqual([
      2, 4, -8,
    ]);
    expect(Array.from(createSampler({ temperature: 4 }).process(row([1, 2, -4])))).toEqual([
      0.25, 0.5, -1,
    ]);
  });

  it('0 is greedy: processors only, no warpers, first maximum', () => {
    const greedy = createSampler({ temperature: 0, topK: 1, topP: 0.1 });
    expect(Array.from(greedy.process(row([1, 3, 3])))).toEqual([1, 3, 3]);
    expect(greedy(row([1, 3, 3])).id).toBe(1);
  });
});

describe('top-k (Hugging Face TopKLogitsWarper)', () => {
  const logits = row([1, 3, 2, 3, 2, 0]);

  it('keeps every token tied with the k-th largest logit', () => {
    // Sorted: 3 3 2 2 1 0. k = 2 → k-th is 3 → keep ids 1, 3.
    expect(kept(createSampler({ topK: 2 }).process(logits))).toEqual([1, 3]);
    // k = 3 → k-th is 2 → keep every logit ≥ 2: four tokens for k = 3.
    expect(kept(createSampler({ topK: 3 }).process(logits))).toEqual([1, 2, 3, 4]);
    // k ≥ the row width keeps everything.
    expect(kept(createSampler({ topK: 10 }).process(logits))).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('k = 1 with a tied maximum still samples between the tied tokens', () => {
    const drawn = counts(createSampler({ topK: 1, seed: 8 }), row([0, 2, 2]), 2000);
    expect(drawn[0]).toBe(0);
    expect(drawn[1]! > 800 && drawn[2]! > 800).toBe(true);
  });
});

describe('top-p (Hugging Face TopPLogitsWarper)', () => {
  const logits = logitsOf([0.1, 0.7, 0.2]);

  it('keeps the tokens whose mass before them (most likely first) is below p', () => {
    // Most likely first: 0.7 (mass before 0), 0.2 (before 0.7), 0.1 (before 0.9).
    expect(kept(createSampler({ topP: 0.75 }).process(logits))).toEqual([1, 2]);
    expect(kept(createSampler({ topP: 0.95 }).process(logits))).toEqual([0, 1, 2]);
  });

  it('always keeps at least the most likely token', () => {
    expect(kept(createSampler({ topP: 0.6 }).process(logits))).toEqual([1]);
    expect(kept(createSampler({ topP: 1e-12 }).process(logits))).toEqual([1]);
  });

  it('stops at a boundary hit exactly, breaking ties by ascending id', () => {
    // Uniform over 4: masses before are 0, 0.25, 0.5, 0.75; p = 0.5 keeps two (0.5 is not < 0.5).
    expect(kept(createSampler({ topP: 0.5 }).process(row([0, 0, 0, 0])))).toEqual([0, 1]);
  });

  it('applies after temperature and top-k', () => {
    // T = 0.5 squares the probabilities: 0.01, 0.49, 0.04 → 0.49/0.54 = 0.907 alone reaches 0.9.
    expect(kept(createSampler({ temperature: 0.5, topP: 0.9 }).process(logits))).toEqual([1]);
    // top-k 1 leaves one token, which top-p keeps whatever p.
    expect(kept(createSampler({ topK: 1, topP: 0.99 }).process(logits))).toEqual([1]);
  });
});

describe('min-p (Hugging Face MinPLogitsWarper)', () => {
  const logits = logitsOf([0.4, 0.3, 0.2, 0.1]);

  it('keeps tokens with probability ≥ minP × the top probability', () => {
    // Ratios to the top: 1, 0.75, 0.5, 0.25. minP 0.3 → drop 0.25; minP 0.6 → keep 1 and 0.75.
    expect(kept(createSampler({ minP: 0.3 }).process(logits))).toEqual([0, 1, 2]);
    expect(kept(createSampler({ minP: 0.6 }).process(logits))).toEqual([0, 1]);
    expect(kept(createSampler({ minP: 1 }).process(logits))).toEqual([0]);
  });

  it('measures the ratio after temperature', () => {
    // T = 0.5 squares the ratios: 1, 0.5625, 0.25, 0.0625. minP 0.3 now keeps only two tokens.
    expect(kept(createSampler({ temperature: 0.5, minP: 0.3 }).process(logits))).toEqual([0, 1]);
    // T = 2 takes square roots: 1, 0.866, 0.707, 0.5 — minP 0.6 keeps three.
    expect(kept(createSampler({ temperature: 2, minP: 0.6 }).process(logits))).toEqual([0, 1, 2]);
  });
});

describe('typical-p (Hugging Face TypicalLogitsWarper)', () => {
  // p = (1/2, 1/4, 1/8, 1/8): entropy H = 1.75 ln 2. |−ln p − H| = 0.75, 0.25, 1.25, 1.25 (× ln 2).
  // Most typical first: id 1 (cumulative 0.25), id 0 (0.75), ids 2 and 3 (0.875, 1).
  const logits = logitsOf([0.5, 0.25, 0.125, 0.125]);

  it('keeps the most typical tokens up to the mass, which can drop the most likely token', () => {
    // typicalP 0.2: no cumulative is < 0.2 → rank 0 → only id 1, not the most likely id 0.
    expect(kept(createSampler({ typicalP: 0.2 }).process(logits))).toEqual([1]);
    // typicalP 0.5: one cumulative (0.25) is < 0.5 → rank 1 → ids 1 and 0.
    expect(kept(createSampler({ typicalP: 0.5 }).process(logits))).toEqual([0, 1]);
  });

  it('keeps tokens tied with the threshold token', () => {
    // typicalP 0.8: cumulatives 0.25 and 0.75 are < 0.8 → rank 2, which is id 2 or id 3; both
    // have the same |−ln p − H| and both are kept.
    expect(kept(createSampler({ typicalP: 0.8 }).process(logits))).toEqual([0, 1, 2, 3]);
  });

  it('keeps everything when the mass is 1 (off) and a single token whatever the mass', () => {
    expect(kept(createSampler({ typicalP: 1 }).process(logits))).toEqual([0, 1, 2, 3]);
    expect(kept(createSampler({ typicalP: 0.01 }).process(row([0, 5, NEG])))).toEqual([1]);
  });
});

describe('warper order: temperature, top-k, top-p, min-p, typical-p', () => {
  it('top-p measures mass within what top-k kept', () => {
    // probs 0.4, 0.3, 0.2, 0.1; top-k 2 → renormalized 4/7, 3/7; top-p 0.5: the mass before
    // id 1 is 4/7 ≥ 0.5 → only id 0. (Top-p first would keep ids 0 and 1: 0.4 < 0.5.)
    const logits = logitsOf([0.4, 0.3, 0.2, 0.1]);
    expect(kept(createSampler({ topK: 2, topP: 0.5 }).process(logits))).toEqual([0]);
  });

  it('typical-p measures entropy within what top-k kept', () => {
    // probs 0.5, 0.3, 0.2; top-k 2 → 0.625, 0.375; H = 0.6616; |−ln p − H| = 0.1916 (id 0),
    // 0.3192 (id 1); typicalP 0.5: the cumulative 0.625 of rank 0 is ≥ 0.5 → only id 0.
    // (On the full row id 1 would rank first, and ids 0 and 1 would be kept.)
    const logits = logitsOf([0.5, 0.3, 0.2]);
    expect(kept(createSampler({ topK: 2, typicalP: 0.5 }).process(logits))).toEqual([0]);
    expect(kept(createSampler({ typicalP: 0.5 }).process(logits))).toEqual([0, 1]);
  });
});
