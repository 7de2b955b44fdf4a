import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isCpuAdapter } from '../src/adapter-kind.js';
import {
  attention,
  attentionWithProbs,
  type Device,
  splitQkvRotary,
  type Tensor,
} from '../src/index.js';
import { attentionLanesTile } from '../src/ops/attention.js';
import { attentionReference, splitQkvRotaryReference } from '../src/reference/index.js';
import { testDevice } from './gpu.js';
import { expectClose, randomFloats } from './numbers.js';

const HEAD_DIMS = [64, 80, 256];
const HEADS = 2;
const MAX_POSITIONS = 160;

describe('splitQkvRotary (split GPT-NeoX qkv, RoPE on q and k, append k and v to the cache)', () => {
  let device: Device;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  for (const headDim of HEAD_DIMS) {
    for (const [tokens, positionOffset] of [
      [1, 0],
      [7, 20],
      [129, 3],
    ] as const) {
      it(`matches the CPU reference: headDim ${headDim}, ${tokens} tokens at position ${positionOffset}`, async () => {
        const rotaryDims = headDim / 4;
        const sizes = {
          tokens,
          heads: HEADS,
          headDim,
          maxPositions: MAX_POSITIONS,
          positionOffset,
        };
        const cacheSize = HEADS * MAX_POSITIONS * headDim;
        const qkv = randomFloats(tokens * HEADS * 3 * headDim, headDim + tokens);
        // Pre-existing cache contents must survive outside the written rows.
        const k0 = randomFloats(cacheSize, 1);
        const v0 = randomFloats(cacheSize, 2);
        const kCache = device.tensor(k0, [HEADS, MAX_POSITIONS, headDim]);
        const vCache = device.tensor(v0, [HEADS, MAX_POSITIONS, headDim]);
        const q = splitQkvRotary(
          device.tensor(qkv, [tokens, HEADS * 3 * headDim]),
          kCache,
          vCache,
          {
            heads: HEADS,
            rotaryDims,
            positionOffset,
          },
        );
        expect(q.shape).toEqual([tokens, HEADS, headDim]);
        const expected = splitQkvRotaryReference(qkv, k0, v0, { ...sizes, rotaryDims });
        expectClose(await q.read(), expected.q, 1e-5, 1e-6);
        expectClose(await kCache.read(), expected.kCache, 1e-5, 1e-6);
        expect(await vCache.read()).toEqual(expected.vCache);
      });
    }
  }

  it('refuses to write past the end of the cache', () => {
    const cache = device.zeros([1, 4, 8]);
    expect(() =>
      splitQkvRotary(device.zeros([2, 24]), cache, cache, {
        heads: 1,
        rotaryDims: 8,
        positionOffset: 3,
      }),
    ).toThrow(/overrun a cache of 4 positions/);
  });
});

describe('attention (causal, over the KV cache)', () => {
  let device: Device;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  it('averages the values of equal keys and ignores future positions', async () => {
    // One head, D = 1; query at position 1 sees keys 0 and 1 (equal scores), not key 2.
    const kCache = device.tensor(new Float32Array([0, 0, 100]), [1, 3, 1]);
    const vCache = device.tensor(new Float32Array([2, 4, 1000]), [1, 3, 1]);
    const q = device.tensor(new Float32Array([1]), [1, 1, 1]);
    const { output, probs } = attentionWithProbs(q, kCache, vCache, { positionOffset: 1 });
    expect(Array.from(await output.read())).toEqual([3]);
    expect(Array.from(await probs.read())).toEqual([0.5, 0.5]);
  });

  for (const headDim of HEAD_DIMS) {
    for (const [tokens, positionOffset] of [
      [1, 0],
      [1, 100],
      [7, 0],
      [7, 30],
      [129, 0],
      [129, 31],
    ] as const) {
      it(`matches the CPU reference with probabilities: headDim ${headDim}, ${tokens} queries from position ${positionOffset}`, async () => {
        const sizes = {
          tokens,
          heads: HEADS,
          headDim,
          maxPositions: MAX_POSITIONS,
          positionOffset,
        };
        const cacheSize = HEADS * MAX_POSITIONS * headDim;
        // Scores of a few units, so the softmax is neither flat nor one-hot.
        const q = randomFloats(tokens * HEADS * headDim, tokens + headDim, -2, 2);
        const k = randomFloats(cacheSize, 3 * headDim, -2, 2);
        const v = randomFloats(cacheSize, 5 * headDim);
        const kCache = device.tensor(k, [HEADS, MAX_POSITIONS, headDim]);
        const vCache = device.tensor(v, [HEADS, MAX_POSITIONS, headDim]);
        const qT = device.tensor(q, [tokens, HEADS, headDim]);
        const { output, probs } = attentionWithProbs(qT, kCache, vCache, { positionOffset });
        const plain = attention(qT, kCache, vCache, { positionOffset, lanes: false });
        expect(output.shape).toEqual([tokens, HEADS * headDim]);
        expect(probs.shape).toEqual([HEADS, tokens, positionOffset + tokens]);
        const expected = attentionReference(q, k, v, sizes);
        expectClose(await output.read(), expected.output, 1e-5, 1e-6);
        expectClose(await probs.read(), expected.probs, 1e-5, 1e-7);
        expect(await plain.read()).toEqual(await output.read());
      });
    }
  }

  for (const headDim of HEAD_DIMS) {
    it(`decoding after a prefill equals a full prefill (headDim ${headDim})`, async () => {
      const tokens = 9;
      const prefillTokens = 6;
      const rotaryDims = headDim / 4;
      const qkv = randomFloats(tokens * HEADS * 3 * headDim, headDim * 7, -2, 2);
      const width = HEADS * 3 * headDim;
      const shape = [HEADS, MAX_POSITIONS, headDim];
      const step = (
        rows: Float32Array,
        cache: [k: Tensor<'f32'>, v: Tensor<'f32'>],
        positionOffset: number,
      ) => {
        const q = splitQkvRotary(
          device.tensor(rows, [rows.length / width, width]),
          cache[0],
          cache[1],
          { heads: HEADS, rotaryDims, positionOffset },
        );
        return attention(q, cache[0], cache[1], { positionOffset });
      };
      const full = await step(qkv, [device.zeros(shape), device.zeros(shape)], 0).read();

      const cache: [Tensor<'f32'>, Tensor<'f32'>] = [device.zeros(shape), device.zeros(shape)];
      const rowsOut: Float32Array[] = [
        await step(qkv.subarray(0, prefillTokens * width), cache, 0).read(),
      ];
      for (let t = prefillTokens; t < tokens; t++) {
        rowsOut.push(await step(qkv.subarray(t * width, (t + 1) * width), cache, t).read());
      }
      const incremental = new Float32Array(full.length);
      let at = 0;
      for (const rows of rowsOut) {
        incremental.set(rows, at);
        at += rows.length;
      }
      expectClose(incremental, full, 1e-5);
    });
  }

  it('rejects queries that would read past the cache', () => {
    const cache = device.zeros([1, 4, 8]);
    expect(() => attention(device.zeros([2, 1, 8]), cache, cache, { positionOffset: 3 })).toThrow(
      /overrun a cache of 4 positions/,
    );
  });
});

describe('attention split over blocks of 256 keys (flash-decoding: partials, then a combine pass)', () => {
  let device: Device;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  /** Random q and caches, the attention output with the given split setting, and the reference. */
  async function compareWithReference(
    sizes: { tokens: number; heads: number; headDim: number; maxPositions: number },
    positionOffset: number,
    splitKeys: boolean | undefined,
    expectedDispatches: number,
  ) {
    const { tokens, heads, headDim, maxPositions } = sizes;
    const cacheShape = [heads, maxPositions, headDim];
    const q = randomFloats(tokens * heads * headDim, tokens + headDim, -2, 2);
    const k = randomFloats(heads * maxPositions * headDim, 7 * headDim, -2, 2);
    const v = randomFloats(heads * maxPositions * headDim, 11 * headDim);
    const qT = device.tensor(q, [tokens, heads, headDim]);
    const kT = device.tensor(k, cacheShape);
    const vT = device.tensor(v, cacheShape);
    const before = device.stats.dispatches;
    // lanes: false: the GPU kernels and their default rule (CPU adapters run attention-lanes).
    const y = attention(qT, kT, vT, { positionOffset, splitKeys, lanes: false });
    expect(device.stats.dispatches - before).toBe(expectedDispatches);
    const unsplit = attention(qT, kT, vT, { positionOffset, splitKeys: false, lanes: false });
    const expected = attentionReference(q, k, v, { ...sizes, positionOffset }).output;
    const actual = await y.read();
    expectClose(actual, expected, 1e-5, 1e-6);
    expectClose(actual, await unsplit.read(), 1e-5, 1e-6);
  }

  it('decodes over 2048 cached keys (8 full blocks) by default, headDim 64', async () => {
    await compareWithReference(
      { tokens: 1, heads: 2, headDim: 64, maxPositions: 2048 },
      2047,
      undefined,
      2,
    );
  });

  it('decodes over 301 keys (a full block and a ragged one of 45), headDim 80', async () => {
    await compareWithReference(
      { tokens: 1, heads: 3, headDim: 80, maxPositions: 320 },
      300,
      undefined,
      2,
    );
  });

  it('merges rows with different block counts: 5 queries from position 510, headDim 256', async () => {
    // Rows see 511 … 515 keys: two blocks for the first two, three for the rest.
    await compareWithReference(
      { tokens: 5, heads: 2, headDim: 256, maxPositions: 600 },
      510,
      undefined,
      2,
    );
  });

  it('handles a short context as one block when forced (11 keys)', async () => {
    await compareWithReference({ tokens: 1, heads: 2, headDim: 64, maxPositions: 32 }, 10, true, 2);
  });

  it('handles a head dimension that is not a multiple of 4 (scalar key loads), 700 keys', async () => {
    await compareWithReference(
      { tokens: 2, heads: 2, headDim: 18, maxPositions: 720 },
      698,
      true,
      2,
    );
  });

  it('splits a prefill whose rows see more than one block of keys (40 queries from position 500)', async () => {
    await compareWithReference(
      { tokens: 40, heads: 2, headDim: 64, maxPositions: 600 },
      500,
      undefined,
      2,
    );
  });

  it('keeps one dispatch for short contexts and when told not to split', async () => {
    await compareWithReference(
      { tokens: 1, heads: 2, headDim: 64, maxPositions: 256 },
      255,
      undefined,
      1,
    );
    await compareWithReference(
      { tokens: 1, heads: 2, headDim: 64, maxPositions: 600 },
      500,
      false,
      1,
    );
  });

  it('decoding token by token over a long context matches the prefill within rounding', async () => {
    // The model's flow: a prefill of 300 tokens, then 3 decode steps, all split (≥ 2 key blocks).
    const [heads, headDim, maxPositions, prefill, tokens] = [2, 64, 320, 300, 303];
    const width = heads * 3 * headDim;
    const qkv = randomFloats(tokens * width, 99, -2, 2);
    const shape = [heads, maxPositions, headDim];
    const step = (first: number, last: number, cache: Tensor<'f32'>[]) => {
      const q = splitQkvRotary(
        device.tensor(qkv.subarray(first * width, last * width), [last - first, width]),
        cache[0]!,
        cache[1]!,
        { heads, rotaryDims: 16, positionOffset: first },
      );
      return attention(q, cache[0]!, cache[1]!, { positionOffset: first, lanes: false });
    };
    const full = await step(0, tokens, [device.zeros(shape), device.zeros(shape)]).read();
    const cache = [device.zeros(shape), device.zeros(shape)];
    await step(0, prefill, cache).read();
    for (let t = prefill; t < tokens; t++) {
      const before = device.stats.dispatches;
      const row = await step(t, t + 1, cache).read();
      expect(device.stats.dispatches - before).toBe(3); // splitQkvRotary + split + combine
      expectClose(row, full.subarray(t * heads * headDim, (t + 1) * heads * headDim), 1e-5, 1e-6);
    }
  });
});

describe('attention-lanes (CPU adapters: rows per lane in registers, keys shared by subgroupShuffle)', () => {
  let device: Device;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  /** The code of the kernels `run` dispatches. */
  function kernelsOf(run: () => Tensor): { y: Tensor; codes: string[] } {
    const spy = vi.spyOn(device, 'dispatch');
    try {
      const y = run();
      return { y, codes: spy.mock.calls.map(([kernel]) => kernel.code) };
    } finally {
      spy.mockRestore();
    }
  }

  // (tokens, heads, headDim, positionOffset): R = 1 (≤ 8 rows) or 2 rows per lane on lavapipe,
  // token counts that leave partial blocks of 16 rows, prefills after a cache.
  for (const [tokens, heads, headDim, positionOffset] of [
    [1, 1, 64, 0],
    [1, 8, 64, 200],
    [8, 12, 80, 3],
    [37, 8, 64, 0],
    [37, 12, 80, 5],
    [129, 12, 64, 31],
    [300, 1, 64, 0],
    [21, 2, 18, 40], // headDim % 4 ≠ 0: falls back to the workgroup kernel
    [21, 2, 128, 40], // headDim > 80: falls back (compile time)
  ] as const) {
    it(`matches the reference and the workgroup kernel: ${tokens} rows, ${heads} heads of ${headDim}, from position ${positionOffset}`, async () => {
      const maxPositions = positionOffset + tokens + 3;
      const sizes = { tokens, heads, headDim, maxPositions, positionOffset };
      const cacheShape = [heads, maxPositions, headDim];
      const q = randomFloats(tokens * heads * headDim, tokens + headDim, -2, 2);
      const k = randomFloats(heads * maxPositions * headDim, 3 * headDim + heads, -2, 2);
      const v = randomFloats(heads * maxPositions * headDim, 5 * headDim + heads);
      const qT = device.tensor(q, [tokens, heads, headDim]);
      const [kT, vT] = [device.tensor(k, cacheShape), device.tensor(v, cacheShape)];
      const { y, codes } = kernelsOf(() => attention(qT, kT, vT, { positionOffset, lanes: true }));
      const tile = attentionLanesTile(device, headDim, tokens);
      if (headDim % 4 !== 0 || headDim > 80) expect(tile).toBeUndefined();
      expect(codes).toHaveLength(1);
      expect(codes[0]!.startsWith('// attention-lanes')).toBe(tile !== undefined);
      const old = attention(qT, kT, vT, { positionOffset, lanes: false, splitKeys: false });
      const actual = await y.read();
      expectClose(actual, attentionReference(q, k, v, sizes).output, 1e-5, 1e-6);
      expectClose(actual, await old.read(), 1e-5, 1e-6);
    });
  }

  it('a row gives the same bits whatever rows run with it: decoding equals the prefill', async () => {
    // 40 rows (R = 2, blocks of 16: rows 32…39 in a partial one), then each row alone (R = 1).
    const [tokens, heads, headDim, maxPositions] = [40, 3, 64, 48];
    const cacheShape = [heads, maxPositions, headDim];
    const q = randomFloats(tokens * heads * headDim, 71, -2, 2);
    const kT = device.tensor(randomFloats(heads * maxPositions * headDim, 72, -2, 2), cacheShape);
    const vT = device.tensor(randomFloats(heads * maxPositions * headDim, 73), cacheShape);
    const full = await attention(device.tensor(q, [tokens, heads, headDim]), kT, vT, {
      lanes: true,
    }).read();
    const width = heads * headDim;
    for (const t of [0, 7, 8, 15, 16, 31, 32, 39]) {
      const row = attention(
        device.tensor(q.subarray(t * width, (t + 1) * width), [1, heads, headDim]),
        kT,
        vT,
        { positionOffset: t, lanes: true },
      );
      expect(await row.read()).toEqual(full.subarray(t * width, (t + 1) * width));
    }
  });

  it('is chosen on CPU adapters with subgroups of a known size, by rows per sequence', () => {
    const on = (subgroupSize: number | undefined) =>
      ({
        features: { subgroups: subgroupSize !== undefined, subgroupSize },
        limits: { maxComputeInvocationsPerWorkgroup: 256 },
      }) as unknown as Device;
    expect(attentionLanesTile(on(8), 64, 1)).toEqual({ headDim: 64, lanes: 8, rows: 1 });
    expect(attentionLanesTile(on(8), 64, 8)).toEqual({ headDim: 64, lanes: 8, rows: 1 });
    expect(attentionLanesTile(on(8), 64, 128)).toEqual({ headDim: 64, lanes: 8, rows: 2 });
    expect(attentionLanesTile(on(8), 80, 1024)).toEqual({ headDim: 80, lanes: 8, rows: 2 });
    // A packed decode step: 16 rows, one per sequence.
    expect(attentionLanesTile(on(8), 64, 16, 1)).toEqual({ headDim: 64, lanes: 8, rows: 1 });
    expect(attentionLanesTile(on(4), 64, 128)).toEqual({ headDim: 64, lanes: 4, rows: 2 });
    expect(attentionLanesTile(on(undefined), 64, 128)).toBeUndefined();
    expect(attentionLanesTile(on(8), 18, 128)).toBeUndefined();
    expect(attentionLanesTile(on(8), 128, 128)).toBeUndefined();
    // This adapter: attention picks it by default exactly on a CPU adapter where it can run.
    const [kT, vT] = [device.zeros([2, 300, 64]), device.zeros([2, 300, 64])];
    const { codes } = kernelsOf(() =>
      attention(device.zeros([1, 2, 64]), kT, vT, { positionOffset: 299 }),
    );
    const lanes =
      isCpuAdapter(device.adapterInfo) && attentionLanesTile(device, 64, 1) !== undefined;
    expect(codes[0]!.startsWith('// attention-lanes')).toBe(lanes);
    expect(codes).toHaveLength(lanes ? 1 : 2); // else split: 300 keys
  });
});
