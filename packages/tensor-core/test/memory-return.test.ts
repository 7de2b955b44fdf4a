// On a CPU adapter (lavapipe in CI) a GPU buffer is process memory, so what the driver gives back
// shows in the process's resident set: these specify when that happens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCpuAdapter } from '../src/adapter-kind.js';
import { add, type Device } from '../src/index.js';
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

/** A tensor whose every page is written, so resident, through one small CPU array. */
async function residentTensor() {
  const tensor = device.empty([ELEMENTS]);
  const piece = new Float32Array(1 << 20).fill(1);
  for (let at = 0; at < ELEMENTS; at += piece.length) await tensor.write(at, piece);
  await device.flush();
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
