import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Device,
  f16BitsToF32Array,
  f32ArrayToF16Bits,
  layerNorm,
  layerNormScale,
  ShapeError,
} from '../src/index.js';
import { layerNormWgsl } from '../src/kernels/layer-norm.js';
import { layerNormReference, layerNormScaleReference } from '../src/reference/index.js';
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

describe('layerNormScale and layerNorm with a given scale', () => {
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

  for (const shape of [
    [1, 1],
    [3, 7],
    [2, 3, 129],
    [4, 515],
  ] as readonly (readonly number[])[]) {
    it(`computes the scale of [${shape.join(', ')}] as [..., 1] and reproduces layerNorm with it`, async () => {
      const cols = shape[shape.length - 1]!;
      const size = shape.reduce((a: number, b) => a * b, 1);
      const x = randomFloats(size, size, -3, 5);
      const w = randomFloats(cols, cols, 0.5, 1.5);
      const b = randomFloats(cols, cols + 1);
      const xT = device.tensor(x, shape);
      const [wT, bT] = [device.tensor(w), device.tensor(b)];
      const scale = layerNormScale(xT, 1e-5);
      expect(scale.shape).toEqual([...shape.slice(0, -1), 1]);
      const expectedScale = layerNormScaleReference(x, cols, 1e-5);
      expectClose(await scale.read(), expectedScale, 1e-5, 1e-6);
      const plain = await layerNorm(xT, wT, bT, 1e-5).read();
      const given = await layerNorm(xT, wT, bT, 1e-5, { scale }).read();
      expectClose(given, plain, 1e-5, 1e-5);
      expectClose(given, layerNormReference(x, w, b, cols, 1e-5, expectedScale), 1e-5, 1e-5);
    });
  }

  it('halves y − b when the scale is doubled (f16 weight and bias, both paths)', async () => {
    const cols = 67;
    const x = randomFloats(3 * cols, 21, -2, 2);
    const w = f32ArrayToF16Bits(randomFloats(cols, 22, 0.5, 1.5));
    const b = f32ArrayToF16Bits(randomFloats(cols, 23));
    const bias = f16BitsToF32Array(b);
    for (const dev of [device, packed]) {
      const xT = dev.tensor(x, [3, cols]);
      const [wT, bT] = [dev.tensor(w), dev.tensor(b)];
      const scale = await layerNormScale(xT).read();
      const doubled = dev.tensor(
        scale.map((s) => 2 * s),
        [3, 1],
      );
      const plain = await layerNorm(xT, wT, bT).read();
      const halved = await layerNorm(xT, wT, bT, 1e-5, { scale: doubled }).read();
      expectClose(
        halved.map((v, i) => v - bias[i % cols]!),
        plain.map((v, i) => (v - bias[i % cols]!) / 2),
        1e-5,
        1e-6,
      );
    }
  });

  it('runs the original kernel when no scale is given, and a variant when one is', async () => {
    const fresh = await testDevice(); // an empty pipeline cache
    const x = fresh.tensor(randomFloats(10, 31), [2, 5]);
    const [w, b] = [fresh.tensor(new Float32Array(5).fill(1)), fresh.zeros([5])];
    layerNorm(x, w, b);
    layerNorm(x, w, b, 1e-5, {});
    await fresh.flush();
    expect(fresh.pipelines.size).toBe(1);
    expect(fresh.pipelines.ready(layerNormWgsl('f32', 'f32'))).toBeDefined();
    layerNorm(x, w, b, 1e-5, { scale: layerNormScale(x) });
    await fresh.flush();
    expect(fresh.pipelines.size).toBe(3); // + layerNormScale's and the given-scale variant
    fresh.destroy();
  });

  it('refuses a scale of the wrong shape or dtype', () => {
    const x = device.zeros([2, 3, 4]);
    const [w, b] = [device.zeros([4]), device.zeros([4])];
    expect(() => layerNorm(x, w, b, 1e-5, { scale: device.zeros([6]) })).toThrow(
      /options.scale must be \[2, 3, 1\]/,
    );
    expect(() =>
      layerNorm(x, w, b, 1e-5, { scale: device.zeros([2, 3, 1], 'u32') as never }),
    ).toThrow(ShapeError);
    expect(() => layerNormScale(device.zeros([2, 0]))).toThrow(/no variance/);
    expect(layerNormScale(device.zeros([0, 4])).shape).toEqual([0, 1]);
  });
});
