import { describe, expect, it } from 'vitest';
import { createSampler, type SamplerOptions } from '../src/index.js';
import { history, row } from './helpers.js';

describe('invalid options throw a RangeError naming the option and its range', () => {
  const cases: [SamplerOptions, RegExp][] = [
    [{ temperature: -1 }, /temperature must be a finite number ≥ 0 \(0 = greedy\), got -1/],
    [{ temperature: Number.NaN }, /temperature must be/],
    [{ topK: 1.5 }, /topK must be an integer ≥ 0 \(0 = off\), got 1.5/],
    [{ topK: -1 }, /topK must be an integer ≥ 0/],
    [{ topP: 0 }, /topP must be in \(0, 1\] \(1 = off\), got 0/],
    [{ topP: 1.01 }, /topP must be in \(0, 1\]/],
    [{ minP: -0.1 }, /minP must be a number in \[0, 1\], got -0.1/],
    [{ minP: 2 }, /minP must be a number in \[0, 1\]/],
    [{ typicalP: 0 }, /typicalP must be in \(0, 1\] \(1 = off\), got 0/],
    [{ repetitionPenalty: 0 }, /repetitionPenalty must be a finite number > 0 \(1 = off\), got 0/],
    [{ presencePenalty: 2.5 }, /presencePenalty must be a number in \[-2, 2\], got 2.5/],
    [{ frequencyPenalty: -3 }, /frequencyPenalty must be a number in \[-2, 2\], got -3/],
    [
      { penaltyScope: 'prompt' as 'all' },
      /penaltyScope must be 'generated' or 'all', got "prompt"/,
    ],
    [{ noRepeatNgramSize: -2 }, /noRepeatNgramSize must be an integer ≥ 0/],
    [{ badWordsIds: [[]] }, /badWordsIds\[0\] must be a non-empty array of integer token ids/],
    [{ badWordsIds: [[1, -1]] }, /badWordsIds\[0\]\[1\] must be an integer token id ≥ 0, got -1/],
    [{ suppressTokens: [0.5] }, /suppressTokens\[0\] must be an integer token id ≥ 0, got 0.5/],
    [{ beginSuppressTokens: [-1] }, /beginSuppressTokens\[0\] must be an integer token id/],
    [{ logitBias: { 1: 101 } }, /logitBias\[1\] must be a number in \[-100, 100\], got 101/],
    [{ logitBias: { '-1': 1 } }, /logitBias keys must be integer token ids ≥ 0, got "-1"/],
    [{ vocabSize: 0 }, /vocabSize must be an integer ≥ 1 \(unset = off\), got 0/],
    [{ topLogprobs: 1.5 }, /topLogprobs must be an integer ≥ 0/],
    [{ seed: 0.5 }, /seed must be an integer, got 0.5/],
  ];
  for (const [options, message] of cases) {
    it(
      JSON.stringify(options, (_, v) => (Number.isNaN(v) ? 'NaN' : v)),
      () => {
        expect(() => createSampler(options)).toThrow(RangeError);
        expect(() => createSampler(options)).toThrow(message);
      },
    );
  }

  it('accepts the boundaries of every range', () => {
    expect(() =>
      createSampler({
        temperature: 0,
        topK: 0,
        topP: 1,
        minP: 1,
        typicalP: 1,
        repetitionPenalty: 1e-3,
        presencePenalty: -2,
        frequencyPenalty: 2,
        logitBias: { 0: -100, 1: 100 },
        vocabSize: 1,
        topLogprobs: 0,
        seed: -7,
      }),
    ).not.toThrow();
  });
});

describe('invalid calls', () => {
  it('needs the history when a history-based option is set', () => {
    expect(() => createSampler({ repetitionPenalty: 1.2 })(row([0, 1]))).toThrow(TypeError);
    expect(() => createSampler({ noRepeatNgramSize: 2 })(row([0, 1]))).toThrow(
      /noRepeatNgramSize needs the token history: call sample\(logits, \{ tokens, generatedFrom \}\)/,
    );
    // One-token bad words need no history; longer ones do.
    expect(createSampler({ badWordsIds: [[0]] })(row([0, 1])).id).toBe(1);
    expect(() => createSampler({ badWordsIds: [[0, 1]] })(row([0, 1]))).toThrow(
      /badWordsIds needs/,
    );
  });

  it('rejects history tokens outside the row and a generatedFrom past the end', () => {
    const sample = createSampler();
    expect(() => sample(row([0, 1]), history([0, 2], 0))).toThrow(
      /history.tokens\[1\] must be a token id in \[0, 1\] for a row of 2 logits, got 2/,
    );
    expect(() => sample(row([0, 1]), history([0], 2))).toThrow(
      /history.generatedFrom must be an integer in \[0, 1\]/,
    );
  });

  it('rejects ids outside the row, NaN or +∞ logits, and an empty row', () => {
    expect(() => createSampler({ suppressTokens: [5] })(row([0, 1]))).toThrow(
      /suppressTokens contains 5, outside a row of 2 logits/,
    );
    expect(() => createSampler({ logitBias: { 9: 1 } })(row([0, 1]))).toThrow(
      /logitBias contains 9/,
    );
    expect(() => createSampler()(row([0, Number.NaN]))).toThrow(/logits\[1\] is NaN/);
    expect(() => createSampler()(row([Number.POSITIVE_INFINITY, 0]))).toThrow(
      /logits\[0\] is Infinity/,
    );
    expect(() => createSampler()(new Float32Array(0))).toThrow(/empty row/);
  });

  it('accepts −∞ logits as an upstream mask', () => {
    expect(createSampler({ seed: 1 })(row([Number.NEGATIVE_INFINITY, 0])).id).toBe(1);
  });
});
