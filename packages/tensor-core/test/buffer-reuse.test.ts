import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { add, createDevice, type Device, type Tensor } from '../src/index.js';

let device: Device;
beforeAll(async () => {
  device = await createDevice();
});
afterAll(() => device?.destroy());

describe('buffers disposed while a step is being recorded', () => {
  it('are reused by later kernels of the same step, with correct results', async () => {
    const size = 3001; // a size no other test pools
    let x: Tensor<'f32'> = device.tensor(new Float32Array(size).fill(1));
    // A first step compiles the kernel; it is the later steps whose allocations matter.
    await add(x, x).read();
    await device.flush();
    const before = device.stats.buffersCreated;
    // 40 "layers" recorded without a read: each output doubles x; the input is freed at once.
    for (let layer = 0; layer < 40; layer++) {
      const next = add(x, x);
      x.dispose();
      x = next;
    }
    const result = await x.read();
    // Two buffers alternate; without reuse inside the step there would be 40.
    expect(device.stats.buffersCreated - before).toBeLessThanOrEqual(3);
    expect(result[0]).toBe(2 ** 40);
    expect(result[size - 1]).toBe(2 ** 40);
    x.dispose();
  });

  it('keep their old contents for the kernels recorded before an upload reuses them', async () => {
    const size = 2999;
    const a = device.tensor(new Float32Array(size).fill(3));
    await device.flush();
    const doubled = add(a, a); // reads a; recorded, not yet submitted
    a.dispose(); // a's buffer is back in the pool…
    const c = device.tensor(new Float32Array(size).fill(100)); // …and this upload takes it
    const [d, cValues] = await Promise.all([doubled.read(), c.read()]);
    expect(d[0]).toBe(6); // not 200: the upload did not overtake the add
    expect(cValues[size - 1]).toBe(100);
    doubled.dispose();
    c.dispose();
  });
});
