import { describe, expect, it } from 'vitest';
import { createSampler } from '../src/index.js';
import { history, row } from './helpers.js';

describe('repetition penalty (Hugging Face RepetitionPenaltyLogitsProcessor)', () => {
  it('divides positive logits and multiplies negative ones, once per distinct earlier token', () => {
    // Row [2, -1, 0.5, -3, 1], history [0, 1, 1, 3], penalty 2:
    //   id 0:  2 > 0 →  2 / 2 =  1
    //   id 1: -1 < 0 → -1 × 2 = -2 (occurs twice, penalized once: not -4)
    //   id 3: -3 < 0 → -3 × 2 = -6
    //   ids 2 and 4 never occurred and keep 0.5 and 1.
    const sample = createSampler({ repetitionPenalty: 2 });
    expect(Array.from(sample.process(row([2, -1, 0.5, -3, 1]), history([0, 1, 1, 3], 2)))).toEqual([
      1, -2, 0.5, -6, 1,
    ]);
  });

  it('counts the prompt by default and only generated tokens with penaltyScope "generated"', () => {
    // Prompt [0, 1], generated [1, 3]. With 'generated', id 0 (prompt only) keeps its logit 2.
    const h = history([0, 1, 1, 3], 2);
    const sample = createSampler({ repetitionPenalty: 2, penaltyScope: 'generated' });
    expect(Array.from(sample.process(row([2, -1, 0.5, -3, 1]), h))).toEqual([2, -2, 0.5, -6, 1]);
  });

  it('leaves a zero logit at zero and rewards repetition with a penalty below 1', () => {
    // Penalty 0.5: 2 / 0.5 = 4, -1 × 0.5 = -0.5, 0 stays 0 (0 / 0.5).
    const sample = createSampler({ repetitionPenalty: 0.5 });
    expect(Array.from(sample.process(row([2, -1, 0]), history([0, 1, 2], 3)))).toEqual([
      4, -0.5, 0,
    ]);
  });

  it('can change the greedy choice', () => {
    // 3 / 1.25 = 2.4 < 2.9: the repeated token loses its lead.
    const greedy = createSampler({ temperature: 0, repetitionPenalty: 1.25 });
    expect(greedy(row([3, 2.9]), history([0], 1)).id).toBe(1);
    expect(createSampler({ temperature: 0 })(row([3, 2.9])).id).toBe(0);
  });
});

describe('presence and frequency penalties (OpenAI)', () => {
  // logit[j] − count[j] · frequency − [count[j] > 0] · presence
  const logits = row([1, 1, 1, 1]);
  const h = history([0, 0, 1, 1, 1, 2], 2); // prompt [0, 0], generated [1, 1, 1, 2]

  it('count the generated tokens only by default', () => {
    // id 1: count 3 → 1 − 3 × 0.25 − 0.5 = −0.25; id 2: count 1 → 1 − 0.25 − 0.5 = 0.25;
    // id 0 occurs only in the prompt and id 3 never: both stay 1.
    const sample = createSampler({ presencePenalty: 0.5, frequencyPenalty: 0.25 });
    expect(Array.from(sample.process(logits, h))).toEqual([1, -0.25, 0.25, 1]);
  });

  it('count the prompt too with penaltyScope "all"', () => {
    // id 0 now has count 2 → 1 − 2 × 0.25 − 0.5 = 0.
    const sample = createSampler({
      presencePenalty: 0.5,
      frequencyPenalty: 0.25,
      penaltyScope: 'all',
    });
    expect(Array.from(sample.process(logits, h))).toEqual([0, -0.25, 0.25, 1]);
  });

  it('encourage repetition when negative', () => {
    // presence −1: ids 1 and 2 gain 1; frequency −0.5: id 1 gains 1.5 more, id 2 0.5 more.
    const sample = createSampler({ presencePenalty: -1, frequencyPenalty: -0.5 });
    expect(Array.from(sample.process(logits, h))).toEqual([1, 3.5, 2.5, 1]);
  });

  it('apply after the repetition penalty (vLLM order)', () => {
    // 2 / 2 − 0.5 = 0.5; the other order would give (2 − 0.5) / 2 = 0.75.
    const sample = createSampler({ repetitionPenalty: 2, presencePenalty: 0.5 });
    expect(Array.from(sample.process(row([2, 0]), history([0], 0)))).toEqual([0.5, 0]);
  });
});

describe('processor order', () => {
  it('adds the logit bias before the repetition penalty, as Hugging Face applies sequence_bias first', () => {
    // (−1 + 2) / 2 = 0.5; bias after the penalty would give −1 × 2 + 2 = 0.
    const sample = createSampler({ logitBias: { 0: 2 }, repetitionPenalty: 2 });
    expect(Array.from(sample.process(row([-1, 0]), history([0], 1)))).toEqual([0.5, 0]);
  });
});
