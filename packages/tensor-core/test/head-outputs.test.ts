import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Device,
  editSelection,
  f16BitsToF32Array,
  f32ArrayToF16Bits,
  headOutputs,
  matmul,
  ShapeError,
  sumHeads,
} from '../src/index.js';
import { headOutputsReference, sumHeadsReference } from '../src/reference/index.js';
import { testDevice } from './gpu.js';
import { expectClose, randomFloats } from './numbers.js';

describe('headOutputs and sumHeads', () => {
  let device: Device;
  let packed: Device;
  let chunked: Device;
  beforeAll(async () => {
    device = await testDevice();
    packed = await testDevice({ disableF16: true });
    // z and the output fit in 1 kB; a [100, 8] weight is 4 (f32) or 2 (f16) row chunks.
    chunked = await testDevice({ maxBindingBytes: 1024 });
  });
  afterAll(() => {
    device.destroy();
    packed.destroy();
    chunked.destroy();
  });

  const sizes = [
    { tokens: 1, heads: 1, headDim: 1, n: 1 },
    { tokens: 5, heads: 4, headDim: 8, n: 32 },
    { tokens: 7, heads: 3, headDim: 13, n: 45 },
    { tokens: 17, heads: 8, headDim: 16, n: 128 },
  ];

  for (const dtype of ['f32', 'f16'] as const) {
    for (const [name, target] of [
      ['native', () => device],
      ['packed', () => packed],
    ] as const) {
      if (dtype === 'f32' && name === 'packed') continue;
      for (const { tokens, heads, headDim, n } of sizes) {
        it(`match the references and matmul for T=${tokens} H=${heads} D=${headDim} N=${n}, ${dtype} weights (${name})`, async () => {
          const dev = target();
          const k = heads * headDim;
          const z = randomFloats(tokens * k, tokens + k);
          const w32 = randomFloats(n * k, n + k, -0.5, 0.5);
          const b32 = randomFloats(n, n);
          const wBits = f32ArrayToF16Bits(w32);
          const bBits = f32ArrayToF16Bits(b32);
          const w = dtype === 'f16' ? f16BitsToF32Array(wBits) : w32;
          const b = dtype === 'f16' ? f16BitsToF32Array(bBits) : b32;
          const zT = dev.tensor(z, [tokens, k]);
          const wT = dtype === 'f16' ? dev.tensor(wBits, [n, k]) : dev.tensor(w32, [n, k]);
          const bT = dtype === 'f16' ? dev.tensor(bBits) : dev.tensor(b32);

          const perHead = headOutputs(zT, wT, { heads });
          expect(perHead.shape).toEqual([tokens, heads, n]);
          const perHeadExpected = headOutputsReference(z, w, tokens, heads, headDim, n);
          expectClose(await perHead.read(), perHeadExpected, 1e-5, 1e-6);

          const summed = sumHeads(perHead, bT);
          expect(summed.shape).toEqual([tokens, n]);
          expectClose(
            await summed.read(),
            sumHeadsReference(perHeadExpected, tokens, heads, n, b),
            1e-5,
            1e-6,
          );
          expectClose(await summed.read(), await matmul(zT, wT, bT).read(), 1e-5, 1e-5);

          // z as [tokens, heads, headDim] gives the same, and sumHeads needs no bias.
          const z3 = headOutputs(dev.tensor(z, [tokens, heads, headDim]), wT, { heads });
          expect(Array.from(await z3.read())).toEqual(Array.from(await perHead.read()));
          expectClose(await sumHeads(perHead).read(), await matmul(zT, wT).read(), 1e-5, 1e-5);
        });
      }
    }
  }

  for (const dtype of ['f32', 'f16'] as const) {
    it(`read ${dtype} weights split into row chunks`, async () => {
      const [tokens, heads, headDim, n] = [1, 2, 4, 100];
      const k = heads * headDim;
      const z = randomFloats(tokens * k, 3);
      const w32 = randomFloats(n * k, 4);
      const wBits = f32ArrayToF16Bits(w32);
      const w = dtype === 'f16' ? f16BitsToF32Array(wBits) : w32;
      const wT = dtype === 'f16' ? chunked.tensor(wBits, [n, k]) : chunked.tensor(w32, [n, k]);
      expect(wT.chunks.length).toBe(dtype === 'f16' ? 2 : 4);
      const before = chunked.stats.dispatches;
      const perHead = headOutputs(chunked.tensor(z, [tokens, k]), wT, { heads });
      expect(chunked.stats.dispatches - before).toBe(wT.chunks.length);
      expectClose(
        await perHead.read(),
        headOutputsReference(z, w, tokens, heads, headDim, n),
        1e-5,
        1e-6,
      );
    });
  }

  it('let an edit of one head change only its share of the sum', async () => {
    const [tokens, heads, headDim, n] = [3, 4, 5, 6];
    const k = heads * headDim;
    const z = randomFloats(tokens * k, 11);
    const w = randomFloats(n * k, 12);
    const perHead = headOutputs(device.tensor(z, [tokens, k]), device.tensor(w, [n, k]), {
      heads,
    });
    const r = headOutputsReference(z, w, tokens, heads, headDim, n);
    const withoutHead2 = r.map((v, i) => (Math.floor(i / n) % heads === 2 ? 0 : v));
    const ablated = sumHeads(editSelection(perHead, { op: 'zero', select: [null, [2]] }));
    expectClose(
      await ablated.read(),
      sumHeadsReference(withoutHead2, tokens, heads, n),
      1e-5,
      1e-6,
    );
  });

  it('refuse shapes that do not fit, saying which', () => {
    const z = device.zeros([3, 8]);
    const w = device.zeros([5, 8]);
    expect(() => headOutputs(z, w, { heads: 3 })).toThrow(/not a multiple of 3 heads/);
    expect(() => headOutputs(z, w, { heads: 0 })).toThrow(/positive integer/);
    expect(() => headOutputs(device.zeros([3, 2, 4]), w, { heads: 4 })).toThrow(
      /\[tokens, 4, headDim\]/,
    );
    expect(() => headOutputs(z, device.zeros([5, 6]), { heads: 2 })).toThrow(/\[N, 8\]/);
    expect(() => headOutputs(z, device.zeros([3, 8], 'u32') as never, { heads: 2 })).toThrow(
      ShapeError,
    );
    expect(() => sumHeads(device.zeros([3, 8]))).toThrow(/\[tokens, heads, N\]/);
    expect(() => sumHeads(device.zeros([3, 2, 8]), device.zeros([7]))).toThrow(/8 elements/);
  });
});
