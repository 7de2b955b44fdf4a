import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDevice, type Device, measureReadBandwidth } from '../src/index.js';

let device: Device;
beforeAll(async () => {
  device = await createDevice();
});
afterAll(() => device?.destroy());

it('measures a streaming-read bandwidth in a plausible range for this adapter', async () => {
  const gbps = await measureReadBandwidth(device, {
    bytes: 16 * 1024 * 1024,
    repeats: 2,
    passes: 2,
  });
  // lavapipe on 2 cores reads a few GB/s; any real GPU, hundreds. Neither reads 0 or 100 TB/s.
  expect(gbps).toBeGreaterThan(0.05);
  expect(gbps).toBeLessThan(100_000);
  // The buffers it used went back to the pool.
  const before = device.stats.buffersCreated;
  await measureReadBandwidth(device, { bytes: 16 * 1024 * 1024, repeats: 1, passes: 1 });
  expect(device.stats.buffersCreated).toBe(before);
});

it('counts the bytes of GPU buffers the device holds', async () => {
  const before = device.stats.bytesAllocated;
  const t = device.zeros([1 << 20]); // 4 MiB, a size no earlier test pooled
  expect(device.stats.bytesAllocated - before).toBeGreaterThanOrEqual(4 << 20);
  t.dispose();
  await device.trimPool();
  expect(device.stats.bytesAllocated).toBeLessThan(before + (4 << 20));
});
