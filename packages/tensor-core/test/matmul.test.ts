import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Device, f16BitsToF32Array, f32ArrayToF16Bits, matmul } from '../src/index.js';
import { matmulReference } from '../src/reference/index.js';
import { testDevice } from './gpu.js';
import { expectClose, randomFloats } from './numbers.js';

// Awkward on purpose: none is a multiple of 2, 4, 16 or 64, except where a path needs testing.
const SHAPES = [
  { m: 1, n: 19, k: 37 },
  { m: 1, n: 131, k: 200 },
  { m: 5, n: 19, k: 37 },
  { m: 17, n: 23, k: 35 },
  { m: 33, n: 70, k: 129 },
];

describe('matmul with f32 weights (y = x·Wᵀ + b)', () => {
  let device: Device;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  for (const { m, n, k } of SHAPES) {
    it(`matches the CPU reference for M=${m}, N=${n}, K=${k}, with and without bias`, async () => {
      const x = randomFloats(m * k, m + n + k);
      const w = randomFloats(n * k, 2 * k + 1);
      const b = randomFloats(n, n + 3);
      const withBias = matmul(device.tensor(x, [m, k]), device.tensor(w, [n, k]), device.tensor(b));
      const without = matmul(device.tensor(x, [m, k]), device.tensor(w, [n, k]));
      expect(withBias.shape).toEqual([m, n]);
      expectClose(await withBias.read(), matmulReference(x, w, m, n, k, b), 1e-5, 1e-5);
      expectClose(await without.read(), matmulReference(x, w, m, n, k), 1e-5, 1e-5);
    });
  }

  it('keeps leading dimensions of x', async () => {
    const y = matmul(device.zeros([2, 3, 5]), device.zeros([7, 5]));
    expect(y.shape).toEqual([2, 3, 7]);
  });

  it('rejects a weight whose K does not match x', () => {
    expect(() => matmul(device.zeros([2, 5]), device.zeros([7, 4]))).toThrow(/weight must be/);
  });
});

for (const disableF16 of [false, true]) {
  describe(`matmul with f16 weights, ${disableF16 ? 'packed in u32' : 'native shader-f16 where available'}`, () => {
    let device: Device;
    beforeAll(async () => {
      device = await testDevice({ disableF16 });
    });
    afterAll(() => device.destroy());

    if (disableF16) {
      it('really takes the packed path', () => {
        expect(device.features.shaderF16).toBe(false);
      });
    }

    for (const { m, n, k } of SHAPES) {
      it(`matches the CPU reference on the same f16 values for M=${m}, N=${n}, K=${k}`, async () => {
        const x = randomFloats(m * k, m * n + k);
        const wBits = f32ArrayToF16Bits(randomFloats(n * k, 3 * k));
        const bBits = f32ArrayToF16Bits(randomFloats(n, n + 5));
        const y = matmul(
          device.tensor(x, [m, k]),
          device.tensor(wBits, [n, k]),
          device.tensor(bBits),
        );
        const expected = matmulReference(
          x,
          f16BitsToF32Array(wBits),
          m,
          n,
          k,
          f16BitsToF32Array(bBits),
        );
        expectClose(await y.read(), expected, 1e-3, 1e-5);
      });
    }

    it('takes an f16 weight with an f32 bias', async () => {
      const wBits = f32ArrayToF16Bits([1, 2, 3, 4, 5, 6]);
      const y = matmul(
        device.tensor(new Float32Array([1, 1, 1]), [1, 3]),
        device.tensor(wBits, [2, 3]),
        device.tensor(new Float32Array([0.5, -0.5])),
      );
      expect(Array.from(await y.read())).toEqual([6.5, 14.5]);
    });
  });
}
