import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Device, f16BitsToF32Array, f32ArrayToF16Bits, layerNorm } from '../src/index.js';
import { layerNormReference } from '../src/reference/index.js';
import { testDevice } from './gpu.js';
import { expectClose, randomFloats } from './numbers.js';

describe('layerNorm', () => {
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

  for (const [rows, cols] of [
    [1, 1],
    [3, 7],
    [5, 129],
    [2, 515],
  ] as const) {
    it(`matches the CPU reference for ${rows} rows of ${cols} with f32 weight and bias`, async () => {
      const x = randomFloats(rows * cols, rows + cols, -3, 5);
      const w = randomFloats(cols, cols, 0.5, 1.5);
      const b = randomFloats(cols, cols + 1);
      const y = layerNorm(device.tensor(x, [rows, cols]), device.tensor(w), device.tensor(b), 1e-5);
      expectClose(await y.read(), layerNormReference(x, w, b, cols, 1e-5), 1e-5, 1e-5);
    });
  }

  for (const [name, target] of [
    ['native', () => device],
    ['packed', () => packed],
  ] as const) {
    it(`reads f16 weight and bias (${name} path) as their exact values`, async () => {
      const cols = 131;
      const x = randomFloats(3 * cols, 7, -2, 2);
      const w = f32ArrayToF16Bits(randomFloats(cols, 8, 0.5, 1.5));
      const b = f32ArrayToF16Bits(randomFloats(cols, 9));
      const dev = target();
      const y = layerNorm(dev.tensor(x, [3, cols]), dev.tensor(w), dev.tensor(b));
      const expected = layerNormReference(x, f16BitsToF32Array(w), f16BitsToF32Array(b), cols);
      expectClose(await y.read(), expected, 1e-3, 1e-5);
    });
  }

  it('is not thrown off by a large common offset (two-pass statistics)', async () => {
    const x = randomFloats(2 * 100, 3).map((v) => 1000 + v);
    const ones = new Float32Array(100).fill(1);
    const zeros = new Float32Array(100);
    const y = layerNorm(device.tensor(x, [2, 100]), device.tensor(ones), device.tensor(zeros));
    // An f32 mean near 1000 is off by ~1e-4, so ~1e-3 is the honest bound; E[x²] − μ² in f32
    // would lose the variance (≈0.33) entirely against x² ≈ 1e6.
    expectClose(await y.read(), layerNormReference(x, ones, zeros, 100), 1e-3, 1e-3);
  });

  it('uses eps, so a constant row normalises to the bias', async () => {
    const y = layerNorm(
      device.tensor(new Float32Array([4, 4, 4])),
      device.tensor(new Float32Array([2, 2, 2])),
      device.tensor(new Float32Array([1, 2, 3])),
    );
    expect(Array.from(await y.read())).toEqual([1, 2, 3]);
  });
});
