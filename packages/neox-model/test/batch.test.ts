import { createDevice, type Device } from '@pythiajs/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ForwardError,
  generate,
  generateBatch,
  InvalidInputError,
  NeoXModel,
  pythiaConfig,
  randomCheckpoint,
  scoreTokens,
  TokenOutOfVocabularyError,
} from '../src/index.js';
import { argmax, FIXTURES, fixtureFolder, golden, logitTolerance, maxAbsDiff } from './golden.js';

let device: Device;
const models = new Map<string, NeoXModel>();

beforeAll(async () => {
  device = await createDevice();
  for (const name of FIXTURES) {
    // f32 weights, so a batched run and a single run differ by summation order alone.
    models.set(
      name,
      await NeoXModel.load({ folder: fixtureFolder(name) }, { device, dtype: 'f32' }),
    );
  }
});
afterAll(() => {
  for (const m of models.values()) m.dispose();
  device?.destroy();
});

/** Sequences of different lengths: the golden cases, a 1-token one and a longer one. */
function sequencesOf(name: string, vocab: number): number[][] {
  const cases = golden(name).map((c) => c.ids);
  const long = Array.from({ length: 23 }, (_, i) => (i * 7919 + 11) % vocab);
  return [...cases, [cases[0]![0]!], long];
}

describe('forwardBatch: a batch of sequences equals each sequence run alone', () => {
  for (const name of FIXTURES) {
    it(`${name}: every sequence's logits within 1e-4 of its single run, and of the float64 reference`, async () => {
      const model = models.get(name)!;
      const vocab = model.config.vocabSize;
      const sequences = sequencesOf(name, vocab);
      const batch = await model.forwardBatch(sequences);
      expect(batch.map((b) => b.length)).toEqual(sequences.map((s) => s.length * vocab));
      for (const [i, ids] of sequences.entries()) {
        const alone = await model.forward(ids);
        expect(maxAbsDiff(batch[i]!, alone)).toBeLessThanOrEqual(1e-4);
      }
      for (const [i, c] of golden(name).entries()) {
        const last = batch[i]!.subarray((c.ids.length - 1) * vocab);
        expect(maxAbsDiff(last, c.logits_last)).toBeLessThanOrEqual(logitTolerance(c.logits_last));
      }
    });
  }

  it("logits: 'last' gives each sequence's last row", async () => {
    const model = models.get('tiny-neox-bin')!;
    const vocab = model.config.vocabSize;
    const sequences = sequencesOf('tiny-neox-bin', vocab);
    const all = await model.forwardBatch(sequences);
    const last = await model.forwardBatch(sequences, { logits: 'last' });
    for (const [i, ids] of sequences.entries()) {
      expect(last[i]!.length).toBe(vocab);
      expect(maxAbsDiff(last[i]!, all[i]!.subarray((ids.length - 1) * vocab))).toBeLessThanOrEqual(
        1e-5,
      );
    }
  });

  it('decodes a batch through one batch cache, sequences continuing at their own positions', async () => {
    const model = models.get('tiny-neox-f32-sharded')!;
    const vocab = model.config.vocabSize;
    const prompts = [[5, 99, 1024], [7], [300, 12, 17, 42, 8, 1999, 640]];
    const cache = model.createCache([12, 10, 16]);
    let logits = await model.forwardBatch(prompts, { cache, logits: 'last' });
    const histories = prompts.map((p) => [...p]);
    for (let step = 0; step < 4; step++) {
      // Sequence 1 sits out step 2: an empty entry leaves its cache as it was.
      const next = logits.map((row, i) =>
        step === 2 && i === 1 ? [] : [argmax(row.subarray(0, vocab))],
      );
      for (const [i, n] of next.entries()) histories[i]!.push(...n);
      logits = await model.forwardBatch(next, { cache, logits: 'last' });
      expect(cache.lengths).toEqual(histories.map((h) => h.length));
      for (const [i, history] of histories.entries()) {
        if (next[i]!.length === 0) {
          expect(logits[i]!.length).toBe(0);
          continue;
        }
        const alone = await model.forward(history, { logits: 'last' });
        expect(maxAbsDiff(logits[i]!, alone)).toBeLessThanOrEqual(1e-4);
      }
      // A sequence that sat out continues from its last logits next step.
      if (step === 2) logits[1] = await model.forward(histories[1]!, { logits: 'last' });
    }
    cache.dispose();
  });

  it('refuses what it cannot do, naming the sequence', async () => {
    const model = models.get('tiny-neox-bin')!;
    await expect(model.forwardBatch([])).rejects.toThrow(InvalidInputError);
    // Several sequences handed to forward are not silently read as one.
    await expect(model.forward([[1, 2], [3]] as unknown as number[])).rejects.toThrow(
      /one sequence of token ids; to run several sequences together use forwardBatch/,
    );
    await expect(model.forwardBatch([[1, 2], []])).rejects.toThrow(/sequence 1 of the batch/);
    const bad = model.forwardBatch([
      [1, 2],
      [3, 5000],
    ]);
    await expect(bad).rejects.toThrow(TokenOutOfVocabularyError);
    await expect(
      model.forwardBatch([
        [1, 2],
        [3, 5000],
      ]),
    ).rejects.toThrow(/sequence 1 of the batch/);
    const cache = model.createCache([4, 4]);
    await expect(model.forwardBatch([[1]], { cache })).rejects.toThrow(
      /1 sequence but the cache holds 2; create it with one capacity per sequence/,
    );
    expect(() => model.forwardTensor([1], { cache })).toThrow(ForwardError);
    expect(() => cache.length).toThrow(/lengths\[i\]/);
    await expect(
      model.forwardBatch(
        [
          [1, 2, 3],
          [1, 2, 3, 4, 5],
        ],
        { cache },
      ),
    ).rejects.toThrow(/sequence 1 of the batch/);
    await expect(model.forwardBatch([[], []], { cache })).rejects.toThrow(/every sequence/);
    cache.dispose();
  });
});

describe('forwardPadded: Hugging Face padded ids with an attention mask', () => {
  it('left and right padding give each row its single-run logits, padded positions NaN', async () => {
    const model = models.get('tiny-neox-bin')!;
    const vocab = model.config.vocabSize;
    const a = [5, 99, 1024, 7, 300, 12];
    const b = [17, 42, 8];
    const pad = 0;
    const left = await model.forwardPadded([a, [pad, pad, pad, ...b]], {
      attentionMask: [
        [1, 1, 1, 1, 1, 1],
        [0, 0, 0, 1, 1, 1],
      ],
    });
    const right = await model.forwardPadded([a, [...b, pad, pad, pad]], {
      attentionMask: [
        [1, 1, 1, 1, 1, 1],
        [1, 1, 1, 0, 0, 0],
      ],
    });
    expect(left.length).toBe(2 * 6 * vocab);
    const aloneA = await model.forward(a);
    const aloneB = await model.forward(b);
    const row = (out: Float32Array, r: number, c: number) =>
      out.subarray((r * 6 + c) * vocab, (r * 6 + c + 1) * vocab);
    for (let c = 0; c < 6; c++) {
      expect(maxAbsDiff(row(left, 0, c), aloneA.subarray(c * vocab, (c + 1) * vocab))).toBeLessThan(
        1e-4,
      );
    }
    for (let t = 0; t < 3; t++) {
      const expected = aloneB.subarray(t * vocab, (t + 1) * vocab);
      expect(maxAbsDiff(row(left, 1, 3 + t), expected)).toBeLessThan(1e-4);
      expect(maxAbsDiff(row(right, 1, t), expected)).toBeLessThan(1e-4);
      expect(row(left, 1, t).every(Number.isNaN)).toBe(true);
      expect(row(right, 1, 3 + t).every(Number.isNaN)).toBe(true);
    }
    const last = await model.forwardPadded([a, [...b, pad, pad, pad]], {
      attentionMask: [
        [1, 1, 1, 1, 1, 1],
        [1, 1, 1, 0, 0, 0],
      ],
      logits: 'last',
    });
    expect(maxAbsDiff(last.subarray(vocab), aloneB.subarray(2 * vocab))).toBeLessThan(1e-4);
  });

  it('refuses a mask that does not match the ids', async () => {
    const model = models.get('tiny-neox-bin')!;
    await expect(model.forwardPadded([[1, 2]], { attentionMask: [[1]] })).rejects.toThrow(
      /2 columns/,
    );
    await expect(model.forwardPadded([[1, 2]], { attentionMask: [[1, 2]] })).rejects.toThrow(
      /holds 1 for a token and 0 for padding/,
    );
    await expect(model.forwardPadded([[1, 2]], { attentionMask: [[0, 0]] })).rejects.toThrow(
      /all 0/,
    );
    await expect(model.forwardPadded([[1, 2]], { attentionMask: [] })).rejects.toThrow(
      /one mask row/,
    );
  });
});

describe('generateBatch', () => {
  it('gives each request what generate gives it alone: greedy, seeded sampling, stop strings', async () => {
    const model = models.get('tiny-neox-f16')!;
    const requests = [
      { ids: golden('tiny-neox-f16')[0]!.ids, temperature: 0, maxNewTokens: 8 },
      { ids: [510, 5798, 310], temperature: 0.9, topK: 40, seed: 7, maxNewTokens: 6 },
      { ids: [12092], temperature: 0, maxNewTokens: 3 },
      { ids: [3, 4, 5, 6, 7, 8, 9, 10, 11], temperature: 1.2, seed: 123, maxNewTokens: 10 },
    ];
    const streamed: number[][] = requests.map(() => []);
    const results = await generateBatch(
      model,
      requests.map((r, i) => ({ ...r, onToken: (t) => streamed[i]!.push(t.id) })),
    );
    expect(results[0]!.ids).toEqual(golden('tiny-neox-f16')[0]!.greedy);
    for (const [i, request] of requests.entries()) {
      const alone: number[] = [];
      const iterator = generate(model, request);
      let next = await iterator.next();
      while (!next.done) {
        alone.push(next.value.id);
        next = await iterator.next();
      }
      expect([i, results[i]!.ids]).toEqual([i, alone]);
      expect(results[i]!.reason).toBe(next.value);
      expect(streamed[i]).toEqual(alone);
    }
  });

  it('refuses an empty batch', async () => {
    await expect(generateBatch(models.get('tiny-neox-f16')!, [])).rejects.toThrow(ForwardError);
  });
});

describe('batches at a real Pythia shape (pythia-70m, random f32 weights)', () => {
  it('packed sequences of 1, 9 and 40 tokens equal their single runs within 1e-4; greedy continuations agree', async () => {
    const config = pythiaConfig('70m');
    const model = await NeoXModel.fromCheckpoint(randomCheckpoint(config, { seed: 3 }), {
      device,
      dtype: 'f32',
    });
    try {
      const vocab = config.vocabSize;
      const sequences = [1, 9, 40].map((n, s) =>
        Array.from({ length: n }, (_, i) => (i * 104729 + s * 7 + 1) % 50000),
      );
      const batch = await model.forwardBatch(sequences, { logits: 'last' });
      for (const [i, ids] of sequences.entries()) {
        const alone = await model.forward(ids, { logits: 'last' });
        expect(maxAbsDiff(batch[i]!, alone)).toBeLessThanOrEqual(1e-4);
        expect(argmax(batch[i]!.subarray(0, vocab))).toBe(argmax(alone));
      }
    } finally {
      model.dispose();
    }
  });
});

describe('batches larger than one step can hold on the device', () => {
  it('forwardBatch and scoreTokens split them into steps and give the same numbers', async () => {
    // A binding limit of 64 KiB: 8 tokens of 2048-wide logits, or 64 tokens of activations.
    const small = await createDevice({ maxBindingBytes: 65536 });
    const model = await NeoXModel.load(
      { folder: fixtureFolder('tiny-neox-bin') },
      { device: small, dtype: 'f32' },
    );
    const reference = models.get('tiny-neox-bin')!;
    try {
      const sequences = [5, 9, 3, 12].map((n, s) =>
        Array.from({ length: n }, (_, i) => (i * 97 + s * 31 + 1) % 2048),
      );
      const all = await model.forwardBatch(sequences);
      const last = await model.forwardBatch(sequences, { logits: 'last' });
      for (const [i, ids] of sequences.entries()) {
        const alone = await reference.forward(ids);
        expect(maxAbsDiff(all[i]!, alone)).toBeLessThanOrEqual(1e-4);
        expect(maxAbsDiff(last[i]!, alone.subarray((ids.length - 1) * 2048))).toBeLessThanOrEqual(
          1e-4,
        );
      }
      // One sequence longer than a step: its chunks continue in the cache.
      const long = sequences.flat();
      expect(maxAbsDiff(await model.forward(long), await reference.forward(long))).toBeLessThan(
        1e-4,
      );
      const many = Array.from({ length: 9 }, (_, s) =>
        Array.from({ length: 12 }, (_, i) => (i * 53 + s * 7 + 2) % 2048),
      );
      const scored = await scoreTokens(model, many); // 108 tokens: two groups
      const expected = await scoreTokens(reference, many);
      for (const [i, s] of scored.entries()) {
        expect(maxAbsDiff(s.logprob, expected[i]!.logprob)).toBeLessThanOrEqual(1e-4);
      }
      expect(() => model.createCache([200, 100])).toThrow(/at most 256 positions in all/);
    } finally {
      model.dispose();
      small.destroy();
    }
  });
});
