import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  add,
  type Device,
  f16BitsToF32Array,
  f32ArrayToF16Bits,
  ShapeError,
  TensorDisposedError,
} from '../src/index.js';
import { testDevice } from './gpu.js';

describe('tensors', () => {
  let device: Device;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  it('round-trip f32, u32 and i32 data through the GPU unchanged', async () => {
    const f32 = new Float32Array([1.5, -0, Number.POSITIVE_INFINITY, 3.4e38, 1e-45]);
    const u32 = new Uint32Array([0, 1, 0xffffffff]);
    const i32 = new Int32Array([-2147483648, -1, 2147483647]);
    expect(await device.tensor(f32).read()).toEqual(f32);
    expect(await device.tensor(u32).read()).toEqual(u32);
    expect(await device.tensor(i32).read()).toEqual(i32);
  });

  it('keep f16 at 2 bytes per element, odd lengths padded to a 4-byte word', async () => {
    const values = new Float32Array([1, -2, 0.5, 65504, 2 ** -24]);
    const t = device.tensor(f32ArrayToF16Bits(values));
    expect(t.dtype).toBe('f16');
    expect(t.byteLength).toBe(10);
    expect(t.buffer.size).toBe(12);
    const bits = await t.read();
    expect(bits).toBeInstanceOf(Uint16Array);
    expect(Array.from(f16BitsToF32Array(bits))).toEqual(Array.from(values));
  });

  it('start zero-filled when created by zeros(), with the requested shape and dtype', async () => {
    const t = device.zeros([3, 5], 'i32');
    expect(t.shape).toEqual([3, 5]);
    expect(t.size).toBe(15);
    expect(Array.from(await t.read())).toEqual(new Array(15).fill(0));
  });

  it('accept chunked writes at element offsets', async () => {
    const t = device.zeros([7]);
    await t.write(0, new Float32Array([1, 2, 3]));
    await t.write(5, new Float32Array([6, 7]));
    await t.write(3, new Float32Array([4]));
    expect(Array.from(await t.read())).toEqual([1, 2, 3, 4, 0, 6, 7]);
  });

  it('accept chunked f16 writes in even chunks, with an odd last chunk', async () => {
    const values = Array.from({ length: 7 }, (_, i) => i + 0.5);
    const bits = f32ArrayToF16Bits(values);
    const t = device.zeros([7], 'f16');
    await t.write(0, bits.subarray(0, 4));
    await t.write(4, bits.subarray(4));
    expect(Array.from(f16BitsToF32Array(await t.read()))).toEqual(values);
    expect(() => t.write(1, bits.subarray(0, 2))).toThrow(/even element/);
    expect(() => t.write(2, bits.subarray(0, 3))).toThrow(/even length/);
  });

  it('order writes after kernels called before them, without awaiting', async () => {
    const x = device.tensor(new Float32Array([1, 1]));
    const y = add(x, x); // reads x = [1, 1]
    const written = x.write(0, new Float32Array([10, 10]));
    const z = add(x, x); // reads x = [10, 10]
    await written;
    expect(Array.from(await y.read())).toEqual([2, 2]);
    expect(Array.from(await z.read())).toEqual([20, 20]);
  });

  it('reject data whose length does not match the shape, and writes past the end', () => {
    expect(() => device.tensor(new Float32Array(5), [2, 3])).toThrow(ShapeError);
    const t = device.zeros([4]);
    expect(() => t.write(3, new Float32Array(2))).toThrow(/overruns/);
    expect(() => t.write(0, new Int32Array(1) as unknown as Float32Array)).toThrow(/i32 data/);
  });

  it('refuse use after dispose, while work recorded before the dispose still completes', async () => {
    const x = device.tensor(new Float32Array([2, 3]));
    const y = add(x, x);
    x.dispose();
    x.dispose();
    expect(Array.from(await y.read())).toEqual([4, 6]);
    expect(() => add(x, x)).toThrow(TensorDisposedError);
    await expect(x.read()).rejects.toThrow(TensorDisposedError);
  });

  it('handle empty tensors', async () => {
    const t = device.tensor(new Float32Array(0), [0, 4]);
    expect(t.size).toBe(0);
    expect((await t.read()).length).toBe(0);
  });
});
