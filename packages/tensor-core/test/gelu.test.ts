import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Device, gelu } from '../src/index.js';
import { erf, erfc, geluReference, geluTanhReference } from '../src/reference/index.js';
import { testDevice } from './gpu.js';
import { expectClose, randomFloats } from './numbers.js';

describe('gelu', () => {
  let device: Device;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  for (const n of [1, 7, 129, 4099]) {
    it(`exact (erf) form matches the CPU reference within 1e-5 relative for ${n} elements`, async () => {
      const x = randomFloats(n, 10 + n, -8, 8);
      const y = gelu(device.tensor(x));
      expectClose(await y.read(), geluReference(x), 1e-5);
    });

    it(`tanh form matches the CPU reference within 1e-5 relative for ${n} elements`, async () => {
      const x = randomFloats(n, 20 + n, -8, 8);
      const y = gelu(device.tensor(x), { approximate: 'tanh' });
      expectClose(await y.read(), geluTanhReference(x), 1e-5);
    });
  }

  it('stays relatively accurate deep in the negative tail, where 1 + erf cancels', async () => {
    const x = new Float32Array([-3, -5, -7, -9, -10, -11.5]);
    const y = await gelu(device.tensor(x)).read();
    expectClose(y, geluReference(x), 1e-5);
    expect(y[5]).toBeLessThan(0);
  });

  it('has an erf that is accurate to well under 1e-6 across the whole range', async () => {
    // gelu(x)/(0.5x) − 1 = erf(x/√2): read the kernel's erf back through the activation.
    const x = new Float32Array(2001).map((_, i) => (i - 1000) / 125 || 1e-3);
    const y = await gelu(device.tensor(x)).read();
    let worst = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      const impliedErf = y[i]! / (0.5 * v) - 1;
      // Dividing an f32 result by 0.5x adds at most one f32 ulp of (1 + erf), i.e. 1.2e-7.
      worst = Math.max(worst, Math.abs(impliedErf - erf(v / Math.SQRT2)));
    }
    expect(worst).toBeLessThan(5e-7);
  });

  it('is 0 at 0 and the identity far out on the positive side', async () => {
    const y = await gelu(device.tensor(new Float32Array([0, 20, 1000]))).read();
    expect(Array.from(y)).toEqual([0, 20, 1000]);
  });
});

describe('the erf CPU reference', () => {
  it('agrees with known values of erf and erfc', () => {
    expect(erf(0)).toBe(0);
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 15);
    expect(erf(-0.5)).toBeCloseTo(-0.5204998778130465, 15);
    expect(erf(2.5)).toBeCloseTo(0.999593047982555, 14);
    expect(erfc(3) / 2.209049699858544e-5).toBeCloseTo(1, 12);
    expect(erfc(5) / 1.5374597944280349e-12).toBeCloseTo(1, 12);
    expect(erfc(-1)).toBeCloseTo(1.8427007929497148, 15);
  });
});
