import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmax, type Device } from '../src/index.js';
import { argmaxReference } from '../src/reference/index.js';
import { testDevice } from './gpu.js';
import { randomFloats } from './numbers.js';

describe('argmax', () => {
  let device: Device;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  for (const [rows, cols] of [
    [1, 1],
    [1, 7],
    [3, 255],
    [2, 257],
    [4, 50_277],
  ] as const) {
    it(`finds the CPU reference's index for ${rows} rows of ${cols}`, async () => {
      const x = randomFloats(rows * cols, rows * cols, -10, 10);
      const y = argmax(device.tensor(x, [rows, cols]));
      expect(y.shape).toEqual([rows]);
      expect(await y.read()).toEqual(argmaxReference(x, cols));
    });
  }

  it('breaks ties toward the first index, across invocations of the workgroup', async () => {
    const x = new Float32Array(1000);
    for (const i of [999, 700, 300, 257]) x[i] = 5;
    expect(Array.from(await argmax(device.tensor(x, [1, 1000])).read())).toEqual([257]);
  });

  it('returns a real index for a row of -Infinity', async () => {
    const x = new Float32Array(5).fill(Number.NEGATIVE_INFINITY);
    expect(Array.from(await argmax(device.tensor(x, [1, 5])).read())).toEqual([0]);
  });
});
