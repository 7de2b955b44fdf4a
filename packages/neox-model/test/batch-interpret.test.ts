import { createDevice, type Device } from '@pythiajs/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ForwardError,
  hookNames,
  logitLens,
  NeoXModel,
  runWithCache,
  runWithHooks,
  scoreTokens,
  tokenLogprobs,
} from '../src/index.js';
import { argmax, fixtureFolder, golden, logSoftmaxAt, maxAbsDiff } from './golden.js';

let device: Device;
let parallel: NeoXModel;
let sequential: NeoXModel;
const batch = [[5, 99, 1024, 7, 300, 12], [17], [42, 8, 1999, 640, 3, 77, 1500, 9, 2047]];

beforeAll(async () => {
  device = await createDevice();
  parallel = await NeoXModel.load(
    { folder: fixtureFolder('tiny-neox-bin') },
    { device, dtype: 'f32' },
  );
  sequential = await NeoXModel.load(
    { folder: fixtureFolder('tiny-neox-f32-sharded') },
    { device, dtype: 'f32' },
  );
});
afterAll(() => {
  parallel?.dispose();
  sequential?.dispose();
  device?.destroy();
});

/** Entropy of softmax(row) in float64. */
function entropy(row: ArrayLike<number>): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  let h = 0;
  for (let i = 0; i < row.length; i++) {
    const lp = row[i]! - max - Math.log(sum);
    h -= Math.exp(lp) * lp;
  }
  return h;
}

describe('runWithCache on a batch', () => {
  for (const [label, model] of [
    ['parallel residual (tiny-neox-bin)', () => parallel],
    ['sequential residual (tiny-neox-f32-sharded)', () => sequential],
  ] as const) {
    it(`${label}: every hook point of every sequence equals its run alone, shape and values`, async () => {
      const m = model();
      const names = hookNames(m.config.numLayers, m.config.parallelResidual);
      const { logits, caches } = await runWithCache(m, batch, { names });
      expect(caches).toHaveLength(batch.length);
      for (const [i, ids] of batch.entries()) {
        const alone = await runWithCache(m, ids, { names });
        expect(maxAbsDiff(logits[i]!, alone.logits)).toBeLessThanOrEqual(1e-4);
        for (const name of names) {
          const got = caches[i]!.get(name)!;
          const want = alone.cache.get(name)!;
          expect([name, got.shape]).toEqual([name, want.shape]);
          expect([name, maxAbsDiff(got.data, want.data) <= 1e-4]).toEqual([name, true]);
        }
      }
    });
  }
});

describe('runWithHooks on a batch', () => {
  it('a steering row and a zero ablation act on every sequence as on each alone', async () => {
    const steer = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 0.5);
    const hooks = {
      'blocks.0.hook_resid_post': (a: { add(v: ArrayLike<number>): void }) => a.add(steer),
      'blocks.1.hook_attn_out': (a: { zero(): void }) => a.zero(),
    };
    const together = await runWithHooks(parallel, batch, hooks);
    for (const [i, ids] of batch.entries()) {
      const alone = await runWithHooks(parallel, ids, hooks);
      expect(maxAbsDiff(together[i]!, alone)).toBeLessThanOrEqual(1e-4);
      // And the hooks did change something.
      expect(maxAbsDiff(alone, await parallel.forward(ids))).toBeGreaterThan(1e-3);
    }
  });

  it('refuses to change attn.hook_pattern, which the attention output would ignore', async () => {
    await expect(
      runWithHooks(parallel, batch[0]!, { 'blocks.0.attn.hook_pattern': (a) => a.zero() }),
    ).rejects.toThrow(ForwardError);
    await expect(
      runWithHooks(parallel, batch, { 'blocks.1.attn.hook_pattern': (a) => a.add([1]) }),
    ).rejects.toThrow(/hook_pattern can be read .* but not changed/);
  });
});

describe('scoring on the GPU', () => {
  it('scoreTokens gives each token its float64 logprob, entropy, rank and argmax from the full logits', async () => {
    const vocab = parallel.config.vocabSize;
    const scores = await scoreTokens(parallel, batch);
    for (const [i, ids] of batch.entries()) {
      const logits = await parallel.forward(ids);
      const s = scores[i]!;
      expect(s.logprob.length).toBe(ids.length - 1);
      for (let t = 0; t + 1 < ids.length; t++) {
        const row = logits.subarray(t * vocab, (t + 1) * vocab);
        const target = ids[t + 1]!;
        expect(Math.abs(s.logprob[t]! - logSoftmaxAt(row, target))).toBeLessThanOrEqual(1e-4);
        expect(Math.abs(s.entropy[t]! - entropy(row))).toBeLessThanOrEqual(1e-4);
        expect(s.rank[t]).toBe(row.filter((x) => x > row[target]!).length);
        expect(s.argmax[t]).toBe(argmax(row));
      }
    }
  });

  it('tokenLogprobs of a batch equals the golden float64 logprobs of each case', async () => {
    const cases = golden('tiny-neox-bin');
    const out = await tokenLogprobs(
      parallel,
      cases.map((c) => c.ids),
    );
    for (const [i, c] of cases.entries()) {
      // f16 checkpoint weights loaded as f32: the reference's own weights, so tight.
      expect(maxAbsDiff(out[i]!, c.token_logprobs)).toBeLessThanOrEqual(2e-3);
    }
    const single = await tokenLogprobs(parallel, cases[0]!.ids);
    expect(maxAbsDiff(single, out[0]!)).toBeLessThanOrEqual(1e-5);
  });

  it('logitLens of a batch equals each sequence alone; its last layer is the model’s own argmax', async () => {
    const vocab = parallel.config.vocabSize;
    const together = await logitLens(parallel, batch);
    for (const [i, ids] of batch.entries()) {
      const alone = await logitLens(parallel, ids);
      expect(together[i]!.map((l) => l.topIds)).toEqual(alone.map((l) => l.topIds));
      for (const [l, layer] of together[i]!.entries()) {
        expect(maxAbsDiff(layer.topProbs, alone[l]!.topProbs)).toBeLessThanOrEqual(1e-5);
      }
      const logits = await parallel.forward(ids);
      expect(alone.at(-1)!.topIds).toEqual(
        ids.map((_, t) => argmax(logits.subarray(t * vocab, (t + 1) * vocab))),
      );
    }
  });
});
