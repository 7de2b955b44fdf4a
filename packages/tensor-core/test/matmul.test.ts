import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Device, f16BitsToF32Array, f32ArrayToF16Bits, matmul } from '../src/index.js';
import {
  addReference,
  geluReference,
  geluTanhReference,
  matmulReference,
} from '../src/reference/index.js';
import { testDevice } from './gpu.js';
import { expectClose, randomFloats } from './numbers.js';

// Awkward on purpose: none is a multiple of 2, 4, 16 or 64, except where a path needs testing.
const SHAPES = [
  { m: 1, n: 19, k: 37 },
  { m: 1, n: 131, k: 200 },
  { m: 5, n: 19, k: 37 },
  { m: 17, n: 23, k: 35 },
  { m: 33, n: 70, k: 129 },
  // K % 8 = 0: the vectorised GEMV (8 weights per load, 4 rows per workgroup; N % 4 ≠ 0).
  { m: 1, n: 131, k: 64 },
  { m: 1, n: 6, k: 520 },
  // Several 64×64 GEMM tiles in both directions, with ragged edges.
  { m: 70, n: 130, k: 96 },
];

describe('matmul with f32 weights (y = x·Wᵀ + b)', () => {
  let device: Device;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  for (const { m, n, k } of SHAPES) {
    it(`matches the CPU reference for M=${m}, N=${n}, K=${k}, with and without bias`, async () => {
      const x = randomFloats(m * k, m + n + k);
      const w = randomFloats(n * k, 2 * k + 1);
      const b = randomFloats(n, n + 3);
      const withBias = matmul(device.tensor(x, [m, k]), device.tensor(w, [n, k]), device.tensor(b));
      const without = matmul(device.tensor(x, [m, k]), device.tensor(w, [n, k]));
      expect(withBias.shape).toEqual([m, n]);
      expectClose(await withBias.read(), matmulReference(x, w, m, n, k, b), 1e-5, 1e-5);
      expectClose(await without.read(), matmulReference(x, w, m, n, k), 1e-5, 1e-5);
    });
  }

  it('keeps leading dimensions of x', async () => {
    const y = matmul(device.zeros([2, 3, 5]), device.zeros([7, 5]));
    expect(y.shape).toEqual([2, 3, 7]);
  });

  it('rejects a weight whose K does not match x', () => {
    expect(() => matmul(device.zeros([2, 5]), device.zeros([7, 4]))).toThrow(/weight must be/);
  });
});

for (const disableF16 of [false, true]) {
  describe(`matmul with f16 weights, ${disableF16 ? 'packed in u32' : 'native shader-f16 where available'}`, () => {
    let device: Device;
    beforeAll(async () => {
      device = await testDevice({ disableF16 });
    });
    afterAll(() => device.destroy());

    if (disableF16) {
      it('really takes the packed path', () => {
        expect(device.features.shaderF16).toBe(false);
      });
    }

    for (const { m, n, k } of SHAPES) {
      it(`matches the CPU reference on the same f16 values for M=${m}, N=${n}, K=${k}`, async () => {
        const x = randomFloats(m * k, m * n + k);
        const wBits = f32ArrayToF16Bits(randomFloats(n * k, 3 * k));
        const bBits = f32ArrayToF16Bits(randomFloats(n, n + 5));
        const y = matmul(
          device.tensor(x, [m, k]),
          device.tensor(wBits, [n, k]),
          device.tensor(bBits),
        );
        const expected = matmulReference(
          x,
          f16BitsToF32Array(wBits),
          m,
          n,
          k,
          f16BitsToF32Array(bBits),
        );
        expectClose(await y.read(), expected, 1e-3, 1e-5);
      });
    }

    it('takes an f16 weight with an f32 bias', async () => {
      const wBits = f32ArrayToF16Bits([1, 2, 3, 4, 5, 6]);
      const y = matmul(
        device.tensor(new Float32Array([1, 1, 1]), [1, 3]),
        device.tensor(wBits, [2, 3]),
        device.tensor(new Float32Array([0.5, -0.5])),
      );
      expect(Array.from(await y.read())).toEqual([6.5, 14.5]);
    });
  });
}

describe('matmul with a fused epilogue (activation, residual)', () => {
  let device: Device;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  const cases = [
    { m: 1, n: 37, k: 64, dtype: 'f16' },
    { m: 1, n: 23, k: 30, dtype: 'f32' },
    { m: 9, n: 70, k: 40, dtype: 'f16' },
    { m: 9, n: 70, k: 40, dtype: 'f32' },
  ] as const;
  for (const { m, n, k, dtype } of cases) {
    it(`equals gelu(x·Wᵀ + b) + r in one dispatch for M=${m}, N=${n}, K=${k}, W ${dtype}`, async () => {
      const x = randomFloats(m * k, k + 1, -2, 2);
      const w32 = randomFloats(n * k, n + 2);
      const wBits = f32ArrayToF16Bits(w32);
      const w = dtype === 'f16' ? f16BitsToF32Array(wBits) : w32;
      const b = randomFloats(n, 3);
      const r = randomFloats(m * n, 4);
      const weight = dtype === 'f16' ? device.tensor(wBits, [n, k]) : device.tensor(w32, [n, k]);
      const xT = device.tensor(x, [m, k]);
      const bT = device.tensor(b);
      const before = device.stats.dispatches;
      const fused = matmul(xT, weight, bT, {
        activation: 'gelu',
        residual: device.tensor(r, [m, n]),
      });
      expect(device.stats.dispatches - before).toBe(1);
      const tanh = matmul(xT, weight, bT, { activation: 'gelu-tanh' });
      const linear = matmulReference(x, w, m, n, k, b);
      expectClose(await fused.read(), addReference(geluReference(linear), r), 1e-5, 1e-5);
      expectClose(await tanh.read(), geluTanhReference(linear), 1e-5, 1e-5);
    });
  }

  it('rejects a residual of the wrong shape', () => {
    expect(() =>
      matmul(device.zeros([2, 4]), device.zeros([3, 4]), undefined, {
        residual: device.zeros([2, 4]),
      }),
    ).toThrow(/shapes differ/);
  });
});

for (const disableSubgroups of [false, true]) {
  describe(`GEMV ${disableSubgroups ? 'with workgroup reductions (no subgroups)' : 'reduced per subgroup'}`, () => {
    let device: Device;
    beforeAll(async () => {
      device = await testDevice({ disableSubgroups });
    });
    afterAll(() => device.destroy());

    it(disableSubgroups ? 'has no subgroups' : 'knows the subgroup size', () => {
      if (disableSubgroups) expect(device.features.subgroupSize).toBeUndefined();
      else expect(device.features.subgroupSize).toBeGreaterThan(0);
    });

    // N not a multiple of the rows per workgroup (4 or 4·64/S), K a multiple of 8.
    for (const { n, k } of [
      { n: 1, k: 8 },
      { n: 45, k: 64 },
      { n: 333, k: 1024 },
    ]) {
      it(`matches the CPU reference for N=${n}, K=${k}, f16 and f32 weights with bias`, async () => {
        const x = randomFloats(k, k);
        const w32 = randomFloats(n * k, n);
        const bits = f32ArrayToF16Bits(w32);
        const b = randomFloats(n, 1);
        const xT = device.tensor(x, [1, k]);
        const y16 = matmul(xT, device.tensor(bits, [n, k]), device.tensor(b));
        const y32 = matmul(xT, device.tensor(w32, [n, k]), device.tensor(b));
        const ref16 = matmulReference(x, f16BitsToF32Array(bits), 1, n, k, b);
        expectClose(await y16.read(), ref16, 1e-5, 1e-5);
        expectClose(await y32.read(), matmulReference(x, w32, 1, n, k, b), 1e-5, 1e-5);
      });
    }
  });
}
