import { describe, expect, it } from 'vitest';
import {
  aggregateStderr,
  argmax,
  bootstrapStderr,
  harnessShuffle,
  mean,
  meanStderr,
  multipleChoiceMetrics,
  PythonRandom,
  perplexity,
  sampleStddev,
} from '../src/index.js';

// Golden values from CPython 3.11's `random` and a transcription of the harness's metrics.py
// (bootstrap without the process pool, which changes nothing: chunk i is seeded with i).

describe('PythonRandom (CPython’s Mersenne Twister)', () => {
  it('gives the numbers random.Random(seed) gives', () => {
    const r0 = new PythonRandom(0);
    expect(Array.from({ length: 5 }, () => r0.getrandbits(32))).toEqual([
      3626764237, 1654615998, 3255389356, 3823568514, 1806341205,
    ]);
    const r42 = new PythonRandom(42);
    expect([r42.random(), r42.random(), r42.random()]).toEqual([
      0.6394267984578837, 0.025010755222666936, 0.27502931836911926,
    ]);
    // A seed wider than 32 bits is seeded from its 32-bit words.
    const big = new PythonRandom(2 ** 32 + 5);
    expect([big.getrandbits(32), big.getrandbits(32), big.getrandbits(32)]).toEqual([
      675479763, 2085189291, 1213270837,
    ]);
    const r7 = new PythonRandom(7);
    expect([1, 2, 3, 7, 1000, 5153, 2 ** 31 + 11].map((n) => r7.randbelow(n))).toEqual([
      0, 0, 1, 5, 49, 593, 404285457,
    ]);
    expect(new PythonRandom(3).choices([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 12)).toEqual([
      2, 5, 3, 6, 6, 0, 0, 8, 2, 2, 9, 4,
    ]);
  });

  it('shuffles documents as the harness’s evaluate() did (random.Random(42).shuffle)', () => {
    const twenty = Array.from({ length: 20 }, (_, i) => i);
    expect(harnessShuffle(twenty)).toEqual([
      19, 5, 14, 4, 9, 13, 15, 18, 6, 12, 17, 10, 1, 11, 2, 16, 7, 8, 0, 3,
    ]);
    expect(twenty[0]).toBe(0); // a copy: the input stays in order
    const lambada = harnessShuffle(Array.from({ length: 5153 }, (_, i) => i));
    expect(lambada.slice(0, 10)).toEqual([95, 4263, 3200, 3219, 379, 296, 3703, 3291, 2794, 4481]);
    expect(lambada.slice(-5)).toEqual([1828, 2006, 2253, 204, 912]);
  });
});

describe('aggregations', () => {
  const lls = [-1.5, -0.25, -3.75, -2.0, -0.5, -7.125, -1.0, -4.5, -0.875, -2.25, -12.5, -0.125];
  const acc = [1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1, 1, 1];

  it('mean and mean_stderr: the sample standard deviation over √n', () => {
    expect(mean(acc)).toBe(0.6153846153846154);
    expect(meanStderr(acc)).toBe(0.1404416814115811);
    // By definition, independently: p(1 − p) n/(n − 1) / n.
    const p = 8 / 13;
    expect(meanStderr(acc)).toBeCloseTo(Math.sqrt((p * (1 - p) * 13) / 12 / 13), 15);
    expect(() => sampleStddev([1])).toThrow(RangeError);
  });

  it('perplexity: exp(−mean log-likelihood)', () => {
    expect(perplexity(lls)).toBe(20.723120306578686);
  });

  it('ppl_stderr: the harness’s bootstrap, draw for draw', () => {
    // Bit for bit CPython's numbers. iters // min(1000, iters) chunks of min(1000, iters): 1500
    // runs one chunk of 1000.
    expect(bootstrapStderr(perplexity, lls, 2000)).toBe(78.52465346879343);
    expect(bootstrapStderr(perplexity, lls, 1500)).toBe(67.77324662368778);
    expect(bootstrapStderr(perplexity, lls, 300)).toBe(46.01799601805432);
    expect(aggregateStderr('perplexity', lls, 300)).toBe(bootstrapStderr(perplexity, lls, 300));
    expect(aggregateStderr('mean', acc, 300)).toBe(meanStderr(acc));
  });
});

describe('acc and acc_norm (MultipleChoiceTask.process_results)', () => {
  // An independent scorer from the harness's definitions: numpy argmax (first maximum) over the
  // log-likelihoods, and over them divided by len(choice) in Python characters (code points).
  function reference(lls: number[], choices: string[], gold: number) {
    const first = (xs: number[]) => xs.indexOf(Math.max(...xs));
    const lengths = choices.map((c) => Array.from(c).length);
    return {
      acc: first(lls) === gold ? 1 : 0,
      acc_norm: first(lls.map((ll, i) => ll / lengths[i]!)) === gold ? 1 : 0,
    };
  }

  const cases: [string, number[], string[], number][] = [
    ['acc and acc_norm agree', [-4, -9, -12], ['cat', 'dog', 'emu'], 0],
    // Choice 1 is longer: more likely per character, less likely in total.
    ['acc_norm picks the longer choice', [-6, -8], ['ab', 'abcdefgh'], 1],
    ['acc picks the shorter choice', [-6, -8], ['ab', 'abcdefgh'], 0],
    // Ties: the first maximum wins, in both metrics.
    ['a tie goes to the first choice', [-3, -3, -5], ['x', 'y', 'z'], 0],
    ['a tie does not go to a later gold', [-3, -3, -5], ['x', 'y', 'z'], 1],
    ['a normalised tie goes to the first', [-2, -4], ['a', 'bb'], 0],
    // Python's len counts code points: an emoji is 1, not 2 UTF-16 units.
    ['len counts code points', [-3, -5.5], ['😀😀😀', 'abcdefghijk'], 0],
  ];
  for (const [name, lls, choices, gold] of cases) {
    it(name, () => {
      expect(multipleChoiceMetrics(lls, choices, gold)).toEqual(reference(lls, choices, gold));
    });
  }

  it('gives the expected values in the cases above', () => {
    expect(multipleChoiceMetrics([-6, -8], ['ab', 'abcdefgh'], 1)).toEqual({ acc: 0, acc_norm: 1 });
    expect(multipleChoiceMetrics([-3, -3, -5], ['x', 'y', 'z'], 1)).toEqual({
      acc: 0,
      acc_norm: 0,
    });
    // −3/3 = −1 against −5.5/11 = −0.5: acc_norm picks choice 1 by code points; with UTF-16
    // lengths (6 for the emoji) choice 0 would be −0.5 too and win the tie.
    expect(multipleChoiceMetrics([-3, -5.5], ['😀😀😀', 'abcdefghijk'], 1)).toEqual({
      acc: 0,
      acc_norm: 1,
    });
  });

  it('argmax is numpy’s: the first maximum, NaN first of all', () => {
    expect(argmax([1, 5, 5, 2])).toBe(1);
    expect(argmax([-Infinity, -Infinity])).toBe(0);
    expect(argmax([1, Number.NaN, 9])).toBe(1);
  });
});
