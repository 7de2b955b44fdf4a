import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDevice,
  type Device,
  rotary,
  ShapeError,
  splitQkv,
  splitQkvRotary,
  writeKvCache,
} from '../src/index.js';
import { splitQkvReference, splitQkvRotaryReference } from '../src/reference/index.js';
import { randomFloats } from './random.js';

let device: Device;
beforeAll(async () => {
  device = await createDevice();
});
afterAll(() => device?.destroy());

describe('the unfused QKV split and cache write', () => {
  for (const [tokens, heads, headDim] of [
    [1, 8, 64],
    [7, 5, 80],
    [13, 2, 256],
  ] as const) {
    it(`splits [${tokens}, ${heads}·3·${headDim}] into q, k, v exactly`, async () => {
      const qkv = randomFloats(tokens * heads * 3 * headDim, 11);
      const { q, k, v } = splitQkv(device.tensor(qkv, [tokens, heads * 3 * headDim]), { heads });
      const expected = splitQkvReference(qkv, { tokens, heads, headDim });
      expect(q.shape).toEqual([tokens, heads, headDim]);
      expect(await q.read()).toEqual(expected.q);
      expect(await k.read()).toEqual(expected.k);
      expect(await v.read()).toEqual(expected.v);
    });
  }

  it('split, rotary and cache write together equal the fused splitQkvRotary', async () => {
    const [tokens, heads, headDim, maxPositions, positionOffset] = [5, 4, 80, 16, 3];
    const rope = { rotaryDims: 20, base: 10000, positionOffset };
    const qkv = device.tensor(randomFloats(tokens * heads * 3 * headDim, 5), [
      tokens,
      heads * 3 * headDim,
    ]);
    const cache = () => device.zeros([heads, maxPositions, headDim]);
    const [kFused, vFused, kOurs, vOurs] = [cache(), cache(), cache(), cache()];
    const qFused = splitQkvRotary(qkv, kFused, vFused, { heads, ...rope });
    const { q, k, v } = splitQkv(qkv, { heads });
    writeKvCache(rotary(k, rope), v, kOurs, vOurs, { positionOffset });
    const rotated = rotary(q, rope);
    expect(await rotated.read()).toEqual(await qFused.read());
    expect(await kOurs.read()).toEqual(await kFused.read());
    expect(await vOurs.read()).toEqual(await vFused.read());
    // And the fused op matches its CPU reference, so the unfused path does too.
    const reference = splitQkvRotaryReference(
      await qkv.read(),
      new Float32Array(heads * maxPositions * headDim),
      new Float32Array(heads * maxPositions * headDim),
      {
        tokens,
        heads,
        headDim,
        maxPositions,
        ...rope,
      },
    );
    const vCache = await vOurs.read();
    expect(vCache).toEqual(reference.vCache);
  });

  it('refuses rows that do not fit the cache', () => {
    const k = device.zeros([4, 2, 8]);
    expect(() =>
      writeKvCache(k, k, device.zeros([2, 6, 8]), device.zeros([2, 6, 8]), { positionOffset: 3 }),
    ).toThrow(ShapeError);
    expect(() => splitQkv(device.zeros([2, 10]), { heads: 3 })).toThrow(/heads·3·headDim/);
  });
});
