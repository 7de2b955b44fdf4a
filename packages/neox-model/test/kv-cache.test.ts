// KVCache.copyPrefix: a prompt cached by one sequence of a batch cache, copied into others, is
// what they continue from, as if each had run the prompt itself.
import { createDevice, type Device } from '@pythiajs/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForwardError, NeoXModel } from '../src/index.js';
import { fixtureFolder, maxAbsDiff } from './golden.js';

let device: Device;
let model: NeoXModel;
beforeAll(async () => {
  device = await createDevice();
  model = await NeoXModel.load(
    { folder: fixtureFolder('tiny-neox-f32-sharded') },
    { device, dtype: 'f32' },
  );
});
afterAll(() => {
  model?.dispose();
  device?.destroy();
});

const PROMPT = [5, 99, 1024, 7, 300];

describe('KVCache.copyPrefix', () => {
  it("copies the first rows of one sequence's keys and values into others and sets their lengths", async () => {
    const cache = model.createCache([8, 6, 7, 9]);
    // Sequence 3 caches something else first: the copy replaces it.
    await model.forwardBatch([PROMPT, [], [], [1, 2, 3, 4, 5, 6]], { cache, logits: 'last' });
    cache.copyPrefix(0, [3, 1], 4);
    expect(cache.lengths).toEqual([5, 4, 0, 4]);
    const [heads, rows, headDim] = cache.keys[0]!.shape as [number, number, number];
    const starts = cache.starts;
    for (const layer of [...cache.keys, ...cache.values]) {
      const data = await layer.read();
      const block = (start: number, length: number) => {
        const out: number[] = [];
        for (let h = 0; h < heads; h++) {
          const at = (h * rows + start) * headDim;
          out.push(...data.subarray(at, at + length * headDim));
        }
        return out;
      };
      const source = block(starts[0]!, 4);
      expect(source.some((x) => x !== 0)).toBe(true);
      expect(block(starts[1]!, 4)).toEqual(source);
      expect(block(starts[3]!, 4)).toEqual(source);
      // Sequence 2, never written, is untouched.
      expect(block(starts[2]!, 7).every((x) => x === 0)).toBe(true);
    }
    cache.dispose();
  });

  it('the copies continue as if each had run the prompt: logits equal running it whole', async () => {
    const cache = model.createCache([8, 8, 8]);
    await model.forwardBatch([PROMPT, [], []], { cache, logits: 'last' });
    cache.copyPrefix(0, [1, 2], PROMPT.length);
    const nexts = [[11], [12, 13], [14]];
    const rows = await model.forwardBatch(nexts, { cache });
    for (const [i, next] of nexts.entries()) {
      const whole = await model.forward([...PROMPT, ...next]);
      const vocab = model.config.vocabSize;
      expect(
        maxAbsDiff(rows[i]!, whole.subarray(PROMPT.length * vocab)),
        `sequence ${i}`,
      ).toBeLessThanOrEqual(1e-4);
    }
    expect(cache.lengths).toEqual([6, 7, 6]);
    cache.dispose();
  });

  it('refuses what it cannot do, changing nothing', async () => {
    const cache = model.createCache([6, 3, 6]);
    await model.forwardBatch([PROMPT, [], [1]], { cache, logits: 'last' });
    expect(() => cache.copyPrefix(0, [2], 6)).toThrow(
      /cannot copy 6 tokens of sequence 0, which has cached 5/,
    );
    expect(() => cache.copyPrefix(0, [1], 4)).toThrow(/sequence 1 holds at most 3 tokens, not 4/);
    expect(() => cache.copyPrefix(0, [0, 2], 2)).toThrow(/both the source and a target/);
    expect(() => cache.copyPrefix(0, [2, 2], 2)).toThrow(/repeat a sequence/);
    expect(() => cache.copyPrefix(3, [1], 1)).toThrow(
      /from 3 is not a sequence of this cache \(it holds 3/,
    );
    expect(() => cache.copyPrefix(0, [-1], 1)).toThrow(/target -1 is not a sequence/);
    expect(() => cache.copyPrefix(0, [1], 1.5)).toThrow(ForwardError);
    expect(cache.lengths).toEqual([5, 0, 1]);
    cache.dispose();
  });
});
