import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyCacheRows, type Device, ShapeError } from '../src/index.js';
import { copyCacheRowsReference } from '../src/reference/index.js';
import { testDevice } from './gpu.js';
import { randomFloats } from './random.js';

let device: Device;
beforeAll(async () => {
  device = await testDevice();
});
afterAll(() => device?.destroy());

describe('copyCacheRows: rows of a KV cache copied within the same buffer', () => {
  for (const [heads, rows, headDim, from, to, length] of [
    [1, 4, 1, 0, [2, 3], 1],
    // A 10-row prompt at the start of block 0 into blocks 1 and 2 (rows 16 and 32), headDim 80.
    [3, 48, 80, 0, [32, 16], 10],
    // The source after its destinations, odd sizes, one destination right after the source.
    [5, 37, 13, 20, [0, 7, 27], 7],
  ] as const) {
    it(`[${heads}, ${rows}, ${headDim}]: rows ${from}… (${length}) to [${to}] equal the reference, the rest untouched`, async () => {
      const data = randomFloats(heads * rows * headDim, rows + headDim);
      const cache = device.tensor(data, [heads, rows, headDim]);
      copyCacheRows(cache, { from, to, length });
      const expected = copyCacheRowsReference(data, [heads, rows, headDim], { from, to, length });
      expect(expected).not.toEqual(data);
      expect(await cache.read()).toEqual(expected);
      cache.dispose();
    });
  }

  it('the reference copies what it says: every head, each destination, nothing else', () => {
    // 2 heads × 5 rows × 2: element (h, p, d) = 100h + 10p + d.
    const data = Array.from({ length: 20 }, (_, i) => {
      const [h, p, d] = [Math.floor(i / 10), Math.floor(i / 2) % 5, i % 2];
      return 100 * h + 10 * p + d;
    });
    const out = copyCacheRowsReference(data, [2, 5, 2], { from: 1, to: [3], length: 2 });
    expect(Array.from(out)).toEqual([
      ...[0, 1, 10, 11, 20, 21, 10, 11, 20, 21],
      ...[100, 101, 110, 111, 120, 121, 110, 111, 120, 121],
    ]);
  });

  it('copies nothing for length 0 or no destination', async () => {
    const data = randomFloats(2 * 6 * 4, 3);
    const cache = device.tensor(data, [2, 6, 4]);
    copyCacheRows(cache, { from: 0, to: [1], length: 0 });
    copyCacheRows(cache, { from: 0, to: [], length: 3 });
    expect(await cache.read()).toEqual(data);
  });

  it('refuses overlapping ranges, rows past the end, bad numbers and other shapes', () => {
    const cache = device.zeros([2, 10, 4]);
    const copy = (from: number, to: number[], length: number) => () =>
      copyCacheRows(cache, { from, to, length });
    expect(copy(0, [2], 3)).toThrow(/overlap/);
    expect(copy(5, [2], 4)).toThrow(/overlap/);
    expect(copy(0, [3, 5], 3)).toThrow(/overlap/);
    expect(copy(0, [3, 3], 3)).toThrow(ShapeError);
    expect(copy(0, [8], 3)).toThrow(/run past the 10 rows/);
    expect(copy(8, [0], 3)).toThrow(/run past/);
    expect(copy(-1, [4], 1)).toThrow(/non-negative integers/);
    expect(copy(0, [4], 1.5)).toThrow(/non-negative integers/);
    expect(copy(0, [4.5], 1)).toThrow(/to\[0\] must be a non-negative integer/);
    expect(() => copyCacheRows(device.zeros([10, 4]), { from: 0, to: [5], length: 1 })).toThrow(
      /\[heads, rows, headDim\]/,
    );
    expect(() =>
      copyCacheRows(device.zeros([2, 10, 4], 'u32') as never, { from: 0, to: [5], length: 1 }),
    ).toThrow(/must be f32/);
  });
});
