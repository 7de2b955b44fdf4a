import { describe, expect, it } from 'vitest';
import { createSampler, Prng, type SamplerOptions } from '../src/index.js';
import { logitsOf } from './helpers.js';

describe('determinism', () => {
  it('draws by inverting the CDF over ids in ascending order with the pinned PRNG stream', () => {
    // Prng(42) gives 2837322924, 544945897, 479756282, 3500138142, 339756180 (prng.test.ts), i.e.
    // u = 0.6606, 0.1269, 0.1117, 0.8149, 0.0791. The CDF of (0.1, 0.2, 0.3, 0.4) over ids
    // 0..3 is 0.1, 0.3, 0.6, 1 → ids 3, 1, 1, 3, 0. Any engine must produce exactly these.
    const sample = createSampler({ seed: 42 });
    const logits = logitsOf([0.1, 0.2, 0.3, 0.4]);
    expect(Array.from({ length: 5 }, () => sample(logits).id)).toEqual([3, 1, 1, 3, 0]);
  });

  it('gives two samplers with one seed the same 200 tokens on a 50 304-wide row with history', () => {
    const width = 50_304;
    const rng = new Prng(5);
    const base = Float32Array.from({ length: width }, () => Math.fround(6 * rng.next() ** 4));
    const options: SamplerOptions = {
      seed: 1234,
      temperature: 0.9,
      topK: 50,
      topP: 0.95,
      minP: 0.01,
      repetitionPenalty: 1.1,
      frequencyPenalty: 0.2,
      noRepeatNgramSize: 3,
      vocabSize: 50_277,
    };
    const run = () => {
      const sample = createSampler(options);
      const prompt = [11, 22, 33];
      const tokens = [...prompt];
      for (let step = 0; step < 200; step++) {
        // The row shifts with the last token so every step differs.
        const logits = base.map((x, i) => (i === (tokens.at(-1)! * 7) % width ? x + 2 : x));
        tokens.push(sample(logits, { tokens, generatedFrom: prompt.length }).id);
      }
      return tokens.slice(prompt.length);
    };
    const first = run();
    expect(run()).toEqual(first);
    expect(new Set(first).size).toBeGreaterThan(20);
    expect(first.every((id) => id < 50_277)).toBe(true);
  });

  it('gives different streams for different seeds', () => {
    const logits = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
    const a = createSampler({ seed: 1 });
    const b = createSampler({ seed: 2 });
    const ids = (s: typeof a) => Array.from({ length: 20 }, () => s(logits).id);
    expect(ids(a)).not.toEqual(ids(b));
  });

  it('process() draws nothing: it leaves the random stream where it was', () => {
    const logits = logitsOf([0.25, 0.25, 0.5]);
    const a = createSampler({ seed: 3 });
    const b = createSampler({ seed: 3 });
    a.process(logits);
    expect(Array.from({ length: 10 }, () => a(logits).id)).toEqual(
      Array.from({ length: 10 }, () => b(logits).id),
    );
  });

  it('greedy decoding draws nothing either', () => {
    const logits = logitsOf([0.25, 0.25, 0.5]);
    const greedy = createSampler({ temperature: 0, seed: 3 });
    expect(Array.from({ length: 3 }, () => greedy(logits).id)).toEqual([2, 2, 2]);
  });
});
