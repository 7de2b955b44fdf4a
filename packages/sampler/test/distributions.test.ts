import { describe, expect, it } from 'vitest';
import { createSampler, Prng } from '../src/index.js';
import {
  CHI2_999,
  chiSquare,
  counts,
  drawnImpossible,
  logitsOf,
  NEG,
  normalize,
} from './helpers.js';
import { refMinP, refTopK, refTopP, refTypical } from './reference.js';

const N = 20_000;

/**
 * Draws N tokens and checks them against the exact processed distribution: never an id of
 * probability 0, and a chi-square below the p = 0.001 critical value for (kept ids − 1) degrees of
 * freedom. A fixed seed makes the test deterministic; the threshold says it is not a fluke fit.
 */
function expectDistribution(
  options: Parameters<typeof createSampler>[0],
  logits: Float32Array,
  expected: number[],
  draws = N,
) {
  const observed = counts(createSampler(options), logits, draws);
  expect(drawnImpossible(observed, expected)).toEqual([]);
  const df = expected.filter((p) => p > 0).length - 1;
  expect(chiSquare(observed, expected)).toBeLessThan(CHI2_999[df]!);
}

describe('sampled distributions (chi-square, 20 000 draws, p = 0.001)', () => {
  it('temperature 0.7 draws from p^(1/0.7), renormalized', () => {
    // (0.1, 0.2, 0.3, 0.4)^(1/0.7) / Σ = 0.0635, 0.1710, 0.3052, 0.4603.
    const expected = normalize([0.1, 0.2, 0.3, 0.4].map((p) => p ** (1 / 0.7)));
    expect(expected.map((p) => +p.toFixed(4))).toEqual([0.0635, 0.171, 0.3052, 0.4603]);
    expectDistribution({ temperature: 0.7, seed: 11 }, logitsOf([0.1, 0.2, 0.3, 0.4]), expected);
  });

  it('top-k 2 draws from the two most likely tokens, renormalized: 4/7 and 3/7', () => {
    expectDistribution({ topK: 2, seed: 12 }, logitsOf([0.4, 0.1, 0.3, 0.2]), [4 / 7, 0, 3 / 7, 0]);
  });

  it('top-p 0.8 keeps 0.4, 0.25, 0.2 (masses before: 0, 0.4, 0.65) and drops 0.1 (before: 0.85)', () => {
    expectDistribution({ topP: 0.8, seed: 13 }, logitsOf([0.05, 0.4, 0.25, 0.2, 0.1]), [
      0,
      0.4 / 0.85,
      0.25 / 0.85,
      0.2 / 0.85,
      0,
    ]);
  });

  it('min-p 0.3 at temperature 0.8 keeps ratios (p / 0.4)^1.25 ≥ 0.3: 1, 0.698, 0.420 (not 0.177)', () => {
    // p^1.25 over the kept three, renormalized: 0.4721, 0.3295, 0.1985.
    const expected = normalize([0.4, 0.3, 0.2].map((p) => p ** 1.25)).concat(0);
    expect(expected.map((p) => +p.toFixed(4))).toEqual([0.4721, 0.3295, 0.1985, 0]);
    expectDistribution(
      { temperature: 0.8, minP: 0.3, seed: 14 },
      logitsOf([0.4, 0.3, 0.2, 0.1]),
      expected,
    );
  });

  it('typical-p 0.5 on (1/2, 1/4, 1/8, 1/8) keeps ids 0 and 1: 2/3 and 1/3', () => {
    expectDistribution({ typicalP: 0.5, seed: 15 }, logitsOf([0.5, 0.25, 0.125, 0.125]), [
      2 / 3,
      1 / 3,
      0,
      0,
    ]);
  });

  it('top-k 40 on a 50 304-wide row draws from the 40 largest logits (39 degrees of freedom, 4 000 draws)', () => {
    // Background −20 everywhere, 60 "hot" ids spread over the row with logits in [0, 3).
    const logits = new Float32Array(50_304).fill(-20);
    const rng = new Prng(99);
    const hot = Array.from({ length: 60 }, (_, j) => j * 823 + 17);
    for (const id of hot) logits[id] = Math.fround(3 * rng.next());
    const top = [...hot].sort((a, b) => logits[b]! - logits[a]!).slice(0, 40);
    const weights = new Array<number>(logits.length).fill(0);
    for (const id of top) weights[id] = Math.exp(logits[id]!);
    // 4 000 draws keep this test fast; the least likely kept id still expects > 25 draws.
    expectDistribution({ topK: 40, seed: 16 }, logits, normalize(weights), 4000);
  });
});

describe('optimized warpers agree with whole-row transcriptions of Hugging Face', () => {
  /** Random logits, spread like a language model's: a few high, a long low tail. */
  function randomRow(rng: Prng, width: number): number[] {
    return Array.from({ length: width }, () => Math.fround(8 * rng.next() ** 3 - 4));
  }
  const keptIds = (xs: ArrayLike<number>) =>
    Array.from(xs).flatMap((x, i) => (x === NEG ? [] : [i]));

  it('top-k, top-p, min-p and typical-p keep exactly the reference sets on 40 random rows', () => {
    const rng = new Prng(2024);
    for (let trial = 0; trial < 40; trial++) {
      const width = trial % 2 === 0 ? 3000 : 200;
      const scores = randomRow(rng, width);
      const logits = Float32Array.from(scores);
      const k = 1 + ((trial * 37) % 500);
      const p = 0.5 + 0.49 * rng.next();
      const m = 0.05 * rng.next();
      const t = 0.2 + 0.79 * rng.next();
      const cases: [Parameters<typeof createSampler>[0], number[]][] = [
        [{ topK: k }, refTopK(scores, k)],
        [{ topP: p }, refTopP(scores, p)],
        [{ minP: m }, refMinP(scores, m)],
        [{ typicalP: t }, refTypical(scores, t)],
        [{ topK: k, topP: p }, refTopP(refTopK(scores, k), p)],
      ];
      for (const [options, reference] of cases) {
        expect(keptIds(createSampler(options).process(logits)), JSON.stringify(options)).toEqual(
          keptIds(reference),
        );
      }
    }
  });

  it('top-p and typical-p keep exactly the reference sets on flat 50 304-wide rows', () => {
    // Flat rows keep thousands of tokens: the ranking must stay exact far past any shortcut.
    const rng = new Prng(7);
    for (const spread of [8, 2, 0.25]) {
      const scores = Array.from({ length: 50_304 }, () => Math.fround(spread * rng.next()));
      const logits = Float32Array.from(scores);
      for (const p of [0.3, 0.9]) {
        expect(keptIds(createSampler({ topP: p }).process(logits))).toEqual(
          keptIds(refTopP(scores, p)),
        );
        expect(keptIds(createSampler({ typicalP: p }).process(logits))).toEqual(
          keptIds(refTypical(scores, p)),
        );
      }
    }
  });
});
