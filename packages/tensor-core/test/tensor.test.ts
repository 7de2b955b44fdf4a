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

describe('tensor views (reshape)', () => {
  let device: Device;
  let chunked: Device;
  beforeAll(async () => {
    device = await testDevice();
    chunked = await testDevice({ maxBindingBytes: 256 });
  });
  afterAll(() => {
    device.destroy();
    chunked.destroy();
  });

  it('share the buffer: same elements, new shape, no copy', async () => {
    const t = device.tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    const created = device.stats.buffersCreated;
    const v = t.reshape([3, 2]);
    expect(v.shape).toEqual([3, 2]);
    expect(v.size).toBe(6);
    expect(v.dtype).toBe('f32');
    expect(v.buffer).toBe(t.buffer);
    expect(device.stats.buffersCreated).toBe(created);
    expect(Array.from(await v.read())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.reshape([6]).shape).toEqual([6]);
    expect(t.reshape([1, 2, 1, 3]).shape).toEqual([1, 2, 1, 3]);
  });

  it('infer one -1 dimension', () => {
    const t = device.zeros([4, 6]);
    expect(t.reshape([2, -1, 3]).shape).toEqual([2, 4, 3]);
    expect(t.reshape([-1]).shape).toEqual([24]);
    expect(device.zeros([0, 6]).reshape([-1, 3]).shape).toEqual([0, 3]);
  });

  it('work as kernel inputs and outputs (writes land in the original)', async () => {
    const a = device.tensor(new Float32Array([1, 2, 3, 4]), [2, 2]);
    const b = device.tensor(new Float32Array([10, 20, 30, 40]), [4]);
    const sum = add(a.reshape([4]), b);
    expect(Array.from(await sum.read())).toEqual([11, 22, 33, 44]);
    // A view as the output binding of a kernel: write through it into a.
    const out = device.zeros([2, 2]);
    const view = out.reshape([4]);
    device.dispatch({
      code: `// copy
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(4) fn main(@builtin(local_invocation_index) i: u32) { y[i] = x[i] * 2.0; }`,
      bindings: [b, view],
      workgroups: [1],
    });
    expect(Array.from(await out.read())).toEqual([20, 40, 60, 80]);
    await view.write(1, new Float32Array([-1]));
    expect(Array.from(await out.read())).toEqual([20, -1, 60, 80]);
  });

  it('leave the original alive when disposed, and die with it', async () => {
    const t = device.tensor(new Float32Array([1, 2, 3, 4]), [2, 2]);
    const v = t.reshape([4]);
    const w = v.reshape([1, 4]); // a view of a view
    v.dispose();
    expect(v.disposed).toBe(true);
    expect(() => add(v, v)).toThrow(TensorDisposedError);
    expect(Array.from(await t.read())).toEqual([1, 2, 3, 4]);
    expect(Array.from(await w.read())).toEqual([1, 2, 3, 4]);
    // The buffer is still the original's: a new tensor does not get it from the pool.
    const other = device.zeros([2, 2]);
    expect(other.buffer).not.toBe(t.buffer);
    t.dispose();
    expect(w.disposed).toBe(true);
    await expect(w.read()).rejects.toThrow(/reshapes/);
  });

  it('refuse shapes of another element count', () => {
    const t = device.zeros([2, 3]);
    expect(() => t.reshape([4])).toThrow(ShapeError);
    expect(() => t.reshape([4])).toThrow(/6 elements but \[4\] has 4/);
    expect(() => t.reshape([-1, -1])).toThrow(/more than one -1/);
    expect(() => t.reshape([4, -1])).toThrow(/cannot infer/);
    expect(() => t.reshape([2, 1.5, 2])).toThrow(/non-negative integers/);
  });

  it('split a row-chunked tensor at the same elements', async () => {
    const data = new Float32Array(80).map((_, i) => i);
    const t = chunked.tensor(data, [10, 8]); // 320 bytes: rows 0-7 (256 bytes), rows 8-9
    expect(t.chunks.map((c) => c.rows)).toEqual([8, 2]);
    const v = t.reshape([20, 4]);
    expect(v.chunks.map((c) => c.buffer)).toEqual(t.chunks.map((c) => c.buffer));
    expect(v.chunks.map((c) => [c.firstRow, c.rows])).toEqual([
      [0, 16],
      [16, 4],
    ]);
    expect(Array.from(await v.read())).toEqual(Array.from(data));
    expect(() => t.reshape([16, 5])).toThrow(/row chunks/);
    expect(t.reshape([80]).chunks.map((c) => c.rows)).toEqual([64, 16]);
  });
});
