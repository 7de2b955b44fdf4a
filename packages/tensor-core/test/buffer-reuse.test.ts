import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { add, createDevice, type Device, gelu, type Tensor } from '../src/index.js';
import { geluReference } from '../src/reference/index.js';

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

  it('keep their old contents for kernels still waiting to compile when an upload reuses them', async () => {
    const size = 2997;
    const x = new Float32Array(size).map((_, i) => (i % 17) / 4 - 2);
    const a = device.tensor(x);
    await device.flush();
    const activated = gelu(a); // gelu is not compiled on this device yet: its dispatch is queued
    a.dispose();
    const c = device.tensor(new Float32Array(size).fill(-7)); // takes a's buffer
    const result = await activated.read();
    const expected = geluReference(x);
    for (let i = 0; i < size; i += 97) expect(result[i]).toBeCloseTo(expected[i]!, 5);
    expect((await c.read())[0]).toBe(-7);
  });

  it('are reused even by a step that compiles its kernels', async () => {
    const size = 2995;
    let x: Tensor<'f32'> = device.tensor(new Float32Array(size).fill(0.5));
    await device.flush();
    const before = device.stats.buffersCreated;
    for (let layer = 0; layer < 20; layer++) {
      const next = gelu(x, { approximate: 'tanh' }); // first use of this pipeline: queued
      x.dispose();
      x = next;
    }
    await x.read();
    expect(device.stats.buffersCreated - before).toBeLessThanOrEqual(3);
  });
});
