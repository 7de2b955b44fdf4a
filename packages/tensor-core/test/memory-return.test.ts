// On a CPU adapter (lavapipe in CI) a GPU buffer is process memory, so what the driver gives back
// shows in the process's resident set: these specify when that happens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCpuAdapter } from '../src/adapter-kind.js';
import { add, type Device, type Tensor } from '../src/index.js';
import { testDevice } from './gpu.js';

let device: Device;
beforeAll(async () => {
  device = await testDevice();
});
afterAll(() => device?.destroy());

// 96 MiB (under the binding limit): far above what the rest of the process allocates or frees
// meanwhile.
const ELEMENTS = 24 << 20;
const BYTES = ELEMENTS * 4;
const rss = () => process.memoryUsage.rss();

/** Writes every page of `tensor`, so that it is resident, through one small CPU array. */
async function fill(tensor: Tensor<'f32'>): Promise<void> {
  const piece = new Float32Array(Math.min(1 << 20, tensor.size)).fill(1);
  for (let at = 0; at < tensor.size; at += piece.length) await tensor.write(at, piece);
  await device.flush();
  // The writes are copies the GPU makes later: wait until every page is written.
  await device.gpuDevice.queue.onSubmittedWorkDone();
}

async function residentTensor() {
  const tensor = device.empty([ELEMENTS]);
  await fill(tensor);
  return tensor;
}

describe('GPU memory going back to the driver', () => {
  it('runs on a CPU adapter, where GPU memory is process memory', () => {
    // The figures below mean nothing on a GPU; CI's adapter is lavapipe.
    expect(isCpuAdapter(device.adapterInfo)).toBe(true);
  });

  it('a destroyed tensor is freed with no later work, and trimPool waits for it', async () => {
    const tensor = await residentTensor();
    const held = rss();
    tensor.destroy();
    await device.trimPool();
    // Without the device's own submission after the destroy, Dawn would keep all of it.
    expect(held - rss()).toBeGreaterThan(0.8 * BYTES);
    await expect(tensor.read()).rejects.toThrow(/disposed/);
  });

  it('many tensors destroyed one after another, as a disposed model does, are all freed', async () => {
    const parts = 8;
    const tensors: Tensor<'f32'>[] = [];
    for (let i = 0; i < parts; i++) tensors.push(device.zeros([ELEMENTS / parts]));
    // Work that reads every one of them, as a forward pass reads a model's weights.
    const sums = [add(tensors[0]!, tensors[1]!)];
    for (const t of tensors.slice(2)) sums.push(add(sums.at(-1)!, t));
    await sums.at(-1)!.read();
    for (const t of sums) t.dispose();
    await Promise.all(tensors.map(fill));
    const held = rss();
    for (const t of tensors) t.destroy();
    await device.trimPool();
    expect(held - rss()).toBeGreaterThan(0.8 * BYTES);
  });

  it('a disposed tensor stays in the pool for reuse until trimPool frees it', async () => {
    const tensor = await residentTensor();
    const held = rss();
    tensor.dispose();
    await device.flush();
    expect(device.stats.pooledBytes).toBeGreaterThanOrEqual(BYTES);
    expect(held - rss()).toBeLessThan(0.2 * BYTES);
    await device.trimPool();
    expect(device.stats.pooledBytes).toBe(0);
    expect(held - rss()).toBeGreaterThan(0.8 * BYTES);
  });

  it('kernels recorded before a destroy still read the values', async () => {
    const values = new Float32Array(1024).map((_, i) => i);
    const a = device.tensor(values);
    const copy = a.reshape([1024]);
    const doubled = add(a, a);
    a.destroy();
    expect(copy.disposed).toBe(true);
    const result = await doubled.read();
    expect(result[1023]).toBe(2046);
    doubled.dispose();
    await device.trimPool();
  });
});
