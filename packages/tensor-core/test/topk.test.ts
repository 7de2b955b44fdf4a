import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Device, topk } from '../src/index.js';
import { topkReference } from '../src/reference/index.js';
import { testDevice } from './gpu.js';
import { randomFloats } from './numbers.js';

describe('topk (k largest per row on the GPU, ties → lower index)', () => {
  let device: Device;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  it('orders best first and breaks ties toward the lower index', async () => {
    const x = device.tensor(new Float32Array([1, 5, 3, 5, -2, 3]), [1, 6]);
    const { values, indices } = topk(x, 4);
    expect(Array.from(await values.read())).toEqual([5, 5, 3, 3]);
    expect(Array.from(await indices.read())).toEqual([1, 3, 2, 5]);
  });

  // pythia's vocabulary (50277 tokens) and its padded embedding width (50304).
  for (const cols of [50277, 50304]) {
    for (const k of [1, 5, 40, 64]) {
      it(`matches the CPU reference over ${cols} columns with k=${k}`, async () => {
        const rows = 2;
        const logits = randomFloats(rows * cols, cols + k, -10, 10);
        const { values, indices } = topk(device.tensor(logits, [rows, cols]), k);
        expect(values.shape).toEqual([rows, k]);
        const expected = topkReference(logits, cols, k);
        expect(await indices.read()).toEqual(expected.indices);
        expect(await values.read()).toEqual(expected.values);
      });
    }
  }

  it('resolves heavy ties (logits quantised to 8 levels) like a stable sort', async () => {
    const cols = 50304;
    const logits = randomFloats(cols, 9, 0, 8).map(Math.floor);
    const { values, indices } = topk(device.tensor(logits, [1, cols]), 64);
    const expected = topkReference(logits, cols, 64);
    expect(await indices.read()).toEqual(expected.indices);
    expect(await values.read()).toEqual(expected.values);
  });

  it('handles -Infinity (masked logits) and rows shorter than the workgroup', async () => {
    const x = new Float32Array([-Infinity, 2, -Infinity, 0.5, -Infinity]);
    const { values, indices } = topk(device.tensor(x, [1, 5]), 5);
    expect(Array.from(await indices.read())).toEqual([1, 3, 0, 2, 4]);
    expect(Array.from(await values.read())).toEqual([2, 0.5, -Infinity, -Infinity, -Infinity]);
  });

  it('rejects k outside [1, 64] or above the row length', () => {
    expect(() => topk(device.zeros([1, 100]), 65)).toThrow(/k must be/);
    expect(() => topk(device.zeros([1, 3]), 4)).toThrow(/k must be/);
  });
});
