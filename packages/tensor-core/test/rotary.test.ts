import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Device, rotary } from '../src/index.js';
import { rotaryReference } from '../src/reference/index.js';
import { testDevice } from './gpu.js';
import { expectClose, randomFloats } from './numbers.js';

// Both sides form the angle as f32(f32(position)·f32(inv_freq)) (PyTorch's f32 `freqs` too), so
// the only difference left is the kernel's f32 sin/cos (absolute error ~1e-7) and the f32
// rotation: hence 1e-5 relative plus 1e-6 absolute for outputs that land near zero.
const RTOL = 1e-5;
const ATOL = 1e-6;

const HEADS: { headDim: number; rotaryDims: number }[] = [
  { headDim: 64, rotaryDims: 16 }, // pythia-70m: rotary_pct 0.25
  { headDim: 64, rotaryDims: 64 },
  { headDim: 80, rotaryDims: 20 }, // pythia-2.8b: head dim 80
  { headDim: 80, rotaryDims: 32 },
  { headDim: 256, rotaryDims: 64 }, // pythia-12b-like head
  { headDim: 256, rotaryDims: 16 },
];

describe('rotary (GPT-NeoX rotate-half RoPE)', () => {
  let device: Device;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  it('rotates dim i against dim i + rotaryDims/2 by position·inv_freq_i', async () => {
    // One head of 6 dims, 4 rotary: pairs (0, 2) with θ = p and (1, 3) with θ = p/100; dims 4, 5
    // pass through. At position 1: (1, 0) → (cos 1, sin 1).
    const x = device.tensor(new Float32Array([1, 1, 0, 0, 7, 8]), [1, 1, 6]);
    const y = await rotary(x, { rotaryDims: 4, base: 10000, positionOffset: 1 }).read();
    expectClose(y, [Math.cos(1), Math.cos(0.01), Math.sin(1), Math.sin(0.01), 7, 8], RTOL, ATOL);
  });

  for (const { headDim, rotaryDims } of HEADS) {
    for (const [tokens, positionOffset] of [
      [1, 0],
      [7, 13],
      [129, 1000],
    ] as const) {
      it(`matches the CPU reference: headDim ${headDim}, rotaryDims ${rotaryDims}, ${tokens} tokens from position ${positionOffset}`, async () => {
        const heads = 2;
        const x = randomFloats(tokens * heads * headDim, headDim + rotaryDims + tokens);
        const y = rotary(device.tensor(x, [tokens, heads, headDim]), {
          rotaryDims,
          positionOffset,
        });
        const expected = rotaryReference(x, { tokens, heads, headDim, rotaryDims, positionOffset });
        const actual = await y.read();
        expectClose(actual, expected, RTOL, ATOL);
        // Dims past rotaryDims are copied bit for bit.
        for (let i = rotaryDims; i < headDim; i++) expect(actual[i]).toBe(x[i]);
      });
    }
  }

  it('stays within tolerance over 2048 positions after an offset of 3000 (angles up to ~5000 rad)', async () => {
    const tokens = 2048;
    const x = randomFloats(tokens * 64, 2048);
    const y = rotary(device.tensor(x, [tokens, 1, 64]), {
      rotaryDims: 16,
      base: 10000,
      positionOffset: 3000,
    });
    const expected = rotaryReference(x, {
      tokens,
      heads: 1,
      headDim: 64,
      rotaryDims: 16,
      positionOffset: 3000,
    });
    expectClose(await y.read(), expected, RTOL, ATOL);
  });

  it('honours a configurable base', async () => {
    const x = randomFloats(7 * 2 * 64, 5);
    const options = { rotaryDims: 32, base: 500, positionOffset: 40 };
    const y = rotary(device.tensor(x, [7, 2, 64]), options);
    const expected = rotaryReference(x, { tokens: 7, heads: 2, headDim: 64, ...options });
    expectClose(await y.read(), expected, RTOL, ATOL);
  });

  it('rejects odd or oversized rotaryDims', () => {
    const x = device.zeros([1, 1, 8]);
    expect(() => rotary(x, { rotaryDims: 3 })).toThrow(/even integer/);
    expect(() => rotary(x, { rotaryDims: 10 })).toThrow(/≤ head dim 8/);
  });
});
