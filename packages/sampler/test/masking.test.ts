import { describe, expect, it } from 'vitest';
import { createSampler } from '../src/index.js';
import { counts, history, NEG, row } from './helpers.js';

const zeros = (n: number) => new Float32Array(n);

describe('no-repeat-n-gram (Hugging Face NoRepeatNGramLogitsProcessor)', () => {
  it('n = 2 bans every token that followed an earlier occurrence of the last token', () => {
    // History 1 2 1 3 1: the last token 1 was followed by 2 and by 3, so both are banned.
    const sample = createSampler({ noRepeatNgramSize: 2 });
    expect(Array.from(sample.process(zeros(5), history([1, 2, 1, 3, 1], 0)))).toEqual([
      0,
      0,
      NEG,
      NEG,
      0,
    ]);
    // History 5 6 5: the bigram (5, 6) exists, so 6 is banned; (6, 5) does not start with 5.
    expect(Array.from(sample.process(zeros(8), history([5, 6, 5], 3)))).toEqual([
      0,
      0,
      0,
      0,
      0,
      0,
      NEG,
      0,
    ]);
  });

  it('n = 3 bans the token completing an earlier trigram with the last two tokens', () => {
    const sample = createSampler({ noRepeatNgramSize: 3 });
    // 1 2 3 1 2: trigram (1, 2, 3) exists and the history ends with 1 2 → ban 3.
    expect(Array.from(sample.process(zeros(4), history([1, 2, 3, 1, 2], 2)))).toEqual([
      0,
      0,
      0,
      NEG,
    ]);
    // 1 2 3 2 2: trigrams (1,2,3) (2,3,2) (3,2,2); none starts with (2, 2) → nothing banned.
    expect(Array.from(sample.process(zeros(4), history([1, 2, 3, 2, 2], 2)))).toEqual([0, 0, 0, 0]);
    // Fewer than n − 1 tokens: Hugging Face bans nothing (`cur_len + 1 < ngram_size`).
    expect(Array.from(sample.process(zeros(4), history([1], 0)))).toEqual([0, 0, 0, 0]);
  });

  it('reads the prompt too, and steers greedy decoding away from the banned token', () => {
    // The trigram 1 2 3 is in the prompt; the most likely token 3 would repeat it.
    const greedy = createSampler({ temperature: 0, noRepeatNgramSize: 3 });
    expect(greedy(row([0, 1, 0, 5]), history([1, 2, 3, 1, 2], 5)).id).toBe(1);
  });

  it('n = 1 bans every token already present', () => {
    const sample = createSampler({ noRepeatNgramSize: 1 });
    expect(Array.from(sample.process(zeros(4), history([3, 0, 3], 0)))).toEqual([NEG, 0, 0, NEG]);
  });
});

describe('suppressed and banned ids', () => {
  it('suppressTokens sets logits to −∞ at every step', () => {
    const sample = createSampler({ suppressTokens: [1, 3] });
    expect(Array.from(sample.process(row([1, 2, 3, 4])))).toEqual([1, NEG, 3, NEG]);
    // The two likely tokens are banned: only ids 0 and 2 (equal logits) are ever drawn.
    const drawn = counts(sample, row([0, 5, 0, 5]), 500);
    expect(drawn[1]! + drawn[3]!).toBe(0);
    expect(drawn[0]! + drawn[2]!).toBe(500);
  });

  it('beginSuppressTokens applies only while nothing has been generated', () => {
    const sample = createSampler({ beginSuppressTokens: [0] });
    expect(sample.process(row([1, 2]), history([1], 1))[0]).toBe(NEG);
    expect(sample.process(row([1, 2]), history([1, 1], 1))[0]).toBe(1);
  });

  it('badWordsIds bans one-token words always and longer ones when the history ends with their prefix', () => {
    // [2] always; [0, 1] when the history ends with 0; [4, 0, 3] when it ends with 4 0.
    const sample = createSampler({ badWordsIds: [[2], [0, 1], [4, 0, 3]] });
    const logits = row([0, 0, 0, 0, 0]);
    expect(Array.from(sample.process(logits, history([1, 4, 0], 0)))).toEqual([
      0,
      NEG,
      NEG,
      NEG,
      0,
    ]);
    expect(Array.from(sample.process(logits, history([1, 0, 4], 0)))).toEqual([0, 0, NEG, 0, 0]);
  });

  it('badWordsIds skips a sequence longer than the whole history, as Hugging Face does', () => {
    // `if len(sequence_ids) > input_ids.shape[1]: continue` — with history [0] the two-token
    // word [0, 1] is not checked even though the history is its prefix; with [2, 0] it is.
    const sample = createSampler({ badWordsIds: [[0, 1]] });
    expect(Array.from(sample.process(row([0, 0, 0]), history([0], 0)))).toEqual([0, 0, 0]);
    expect(Array.from(sample.process(row([0, 0, 0]), history([2, 0], 0)))).toEqual([0, NEG, 0]);
  });
});

describe('logit bias (OpenAI logit_bias)', () => {
  it('adds the bias to the listed ids', () => {
    const sample = createSampler({ logitBias: { 1: 2.5, 3: -100 } });
    expect(Array.from(sample.process(row([0, 0, 0, 0.5])))).toEqual([0, 2.5, 0, -99.5]);
  });

  it('can make a token the greedy choice', () => {
    const greedy = createSampler({ temperature: 0, logitBias: { 0: 1.5 } });
    expect(greedy(row([1, 2])).id).toBe(0); // 1 + 1.5 = 2.5 > 2
  });
});

describe('vocabulary masking (vocabSize)', () => {
  it('sets ids ≥ vocabSize to −∞, so they are never chosen', () => {
    const logits = row([0, 1, 0, 0, 0, 2, 9, 3]);
    const sample = createSampler({ vocabSize: 5, seed: 3 });
    expect(Array.from(sample.process(logits))).toEqual([0, 1, 0, 0, 0, NEG, NEG, NEG]);
    expect(createSampler({ temperature: 0, vocabSize: 5 })(logits).id).toBe(1);
    const drawn = counts(sample, logits, 2000);
    expect(drawn.slice(5)).toEqual([0, 0, 0]);
    expect(drawn.slice(0, 5).every((c) => c > 0)).toBe(true);
  });

  it('is off unless set, and a no-op when vocabSize ≥ the row width', () => {
    const logits = row([0, 0, 5]);
    expect(createSampler({ temperature: 0 })(logits).id).toBe(2);
    expect(Array.from(createSampler({ vocabSize: 3 }).process(logits))).toEqual([0, 0, 5]);
    expect(Array.from(createSampler({ vocabSize: 10 }).process(logits))).toEqual([0, 0, 5]);
  });

  it("masks Pythia's 27 padding ids for the GPT-NeoX-20B tokenizer (50 277 of 50 304)", () => {
    const logits = new Float32Array(50_304).fill(-1);
    logits[50_300] = 10; // a padding row that happens to score highest
    const processed = createSampler({ vocabSize: 50_277 }).process(logits);
    expect(processed[50_276]).toBe(-1);
    expect(processed.subarray(50_277).every((x) => x === NEG)).toBe(true);
    expect(createSampler({ temperature: 0, vocabSize: 50_277 })(logits).id).toBe(0);
  });
});

describe('a row with nothing left', () => {
  it('throws instead of returning a token the processors banned', () => {
    const options = { suppressTokens: [0, 1] };
    expect(() => createSampler(options)(row([1, 2]))).toThrow(/every token is masked/);
    expect(() => createSampler({ ...options, temperature: 0 })(row([1, 2]))).toThrow(
      /every token is masked/,
    );
  });
});
