import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Device, embedding, f16BitsToF32Array, f32ArrayToF16Bits } from '../src/index.js';
import { embeddingReference } from '../src/reference/index.js';
import { testDevice } from './gpu.js';
import { randomFloats } from './numbers.js';

describe('embedding', () => {
  let device: Device;
  let packed: Device;
  beforeAll(async () => {
    device = await testDevice();
    packed = await testDevice({ disableF16: true });
  });
  afterAll(() => {
    device.destroy();
    packed.destroy();
  });

  const vocab = 37;
  const cols = 13;
  const ids = new Uint32Array([5, 0, 36, 5, 17, 1, 30]);

  it('gathers f32 rows exactly', async () => {
    const table = randomFloats(vocab * cols, 1);
    const y = embedding(device.tensor(ids), device.tensor(table, [vocab, cols]));
    expect(y.shape).toEqual([7, cols]);
    expect(await y.read()).toEqual(embeddingReference(ids, table, cols));
  });

  for (const [name, target] of [
    ['native', () => device],
    ['packed', () => packed],
  ] as const) {
    it(`widens f16 rows exactly (${name} path), including odd row starts`, async () => {
      const table = f32ArrayToF16Bits(randomFloats(vocab * cols, 2));
      const dev = target();
      const y = embedding(dev.tensor(ids), dev.tensor(table, [vocab, cols]));
      expect(await y.read()).toEqual(embeddingReference(ids, f16BitsToF32Array(table), cols));
    });
  }

  it('accepts i32 ids, keeps their shape, and gives zero rows for ids out of range', async () => {
    const table = randomFloats(vocab * cols, 3);
    const bad = new Int32Array([2, -1, vocab, 3]);
    const y = embedding(device.tensor(bad, [2, 2]), device.tensor(table, [vocab, cols]));
    expect(y.shape).toEqual([2, 2, cols]);
    expect(await y.read()).toEqual(embeddingReference(bad, table, cols));
  });
});
