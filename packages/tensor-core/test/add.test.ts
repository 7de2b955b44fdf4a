import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { add, type Device } from '../src/index.js';
import { addReference } from '../src/reference/index.js';
import { testDevice } from './gpu.js';
import { expectClose, randomFloats } from './numbers.js';

describe('add (residual add)', () => {
  let device: Device;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  for (const n of [1, 7, 129, 4099]) {
    it(`matches a + b on the CPU for ${n} elements`, async () => {
      const a = randomFloats(n, n, -100, 100);
      const b = randomFloats(n, n + 1, -100, 100);
      const y = add(device.tensor(a), device.tensor(b));
      expectClose(await y.read(), addReference(a, b), 1e-5);
    });
  }

  it('keeps the shape of its operands', async () => {
    const y = add(
      device.tensor(new Float32Array(6), [2, 3]),
      device.tensor(new Float32Array(6), [2, 3]),
    );
    expect(y.shape).toEqual([2, 3]);
    expect(y.dtype).toBe('f32');
  });

  it('rejects operands of different shapes before touching the GPU', () => {
    expect(() =>
      add(device.tensor(new Float32Array(6), [2, 3]), device.tensor(new Float32Array(6), [3, 2])),
    ).toThrow(/shapes differ/);
  });

  it('chains without awaiting: each kernel sees the result of the one called before it', async () => {
    const x = device.tensor(new Float32Array([1, 2, 3]));
    const y = add(add(x, x), x);
    expect(Array.from(await y.read())).toEqual([3, 6, 9]);
  });
});
