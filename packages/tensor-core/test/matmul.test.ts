import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AdapterInfo,
  type Device,
  f16BitsToF32Array,
  f32ArrayToF16Bits,
  matmul,
  type Tensor,
} from '../src/index.js';
import { GEMM_TILE, gemmWgsl } from '../src/kernels/gemm.js';
import { type GemmLanesTile, gemmLanesGrid, gemmLanesWgsl } from '../src/kernels/gemm-lanes.js';
import type { Activation, LinearVariant } from '../src/kernels/linear.js';
import { gemmPlan, isCpuAdapter } from '../src/ops/matmul.js';
import { storageTypeOf } from '../src/ops/storage-type.js';
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
  // K % 4 = 0, the lane-blocked GEMM on CPU adapters (16, 8 and 4 rows per block), with K
  // shorter than one subgroup's block of x (K = 12), ragged blocks of rows, columns and K.
  { m: 37, n: 150, k: 100 },
  { m: 17, n: 23, k: 36 },
  { m: 6, n: 40, k: 12 },
  { m: 3, n: 131, k: 68 },
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

/** y = act(x·Wᵀ + b) + r from one direct dispatch of `code` (a GEMM kernel), for any tile. */
function dispatchGemm(
  device: Device,
  code: string,
  workgroups: [number, number],
  x: Tensor<'f32'>,
  w: Tensor<'f32' | 'f16'>,
  b: Tensor<'f32' | 'f16'> | undefined,
  r: Tensor<'f32'> | undefined,
): Tensor<'f32'> {
  const [m, k] = x.shape as [number, number];
  const n = w.shape[0]!;
  const y = device.empty([m, n]);
  device.dispatch({
    code,
    bindings: [x, w, ...(b ? [b] : []), ...(r ? [r] : []), y],
    uniforms: new Uint32Array([m, n, k, n, 0]),
    workgroups,
  });
  return y;
}

function epilogueReference(
  linear: Float32Array,
  activation: Activation,
  residual?: Float32Array,
): Float32Array {
  const act =
    activation === 'gelu'
      ? geluReference(linear)
      : activation === 'gelu-tanh'
        ? geluTanhReference(linear)
        : linear;
  return residual ? addReference(act, residual) : act;
}

describe('GEMM kernels on every tile and path, whatever matmul picks on this adapter', () => {
  let device: Device;
  let packed: Device;
  beforeAll(async () => {
    device = await testDevice();
    packed = await testDevice({ disableF16: true });
  });
  afterAll(() => {
    device.destroy();
    packed.destroy();
  });

  it('picks the lane-blocked GEMM on CPU adapters (K % 4 = 0), the tiled one otherwise', () => {
    const lavapipe: AdapterInfo = {
      vendor: 'mesa',
      architecture: 'software',
      description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)',
      device: 'llvmpipe-llvm-15-0-6-256-bits-',
    };
    const swiftshader = {
      vendor: 'google',
      architecture: 'swiftshader',
      description: '',
      device: '',
    };
    const nvidia = { vendor: 'nvidia', architecture: 'hopper', description: '', device: '' };
    const blank = { vendor: '', architecture: '', description: '', device: '' };
    expect([lavapipe, swiftshader, nvidia, blank].map(isCpuAdapter)).toEqual([
      true,
      true,
      false,
      false,
    ]);
    // gemmPlan reads only these fields of a device.
    const on = (
      adapterInfo: AdapterInfo,
      subgroupSize: number | undefined,
      maxComputeInvocationsPerWorkgroup = 256,
    ) =>
      ({
        adapterInfo,
        features: { subgroups: subgroupSize !== undefined, subgroupSize },
        limits: { maxComputeInvocationsPerWorkgroup, maxComputeWorkgroupStorageSize: 16384 },
      }) as unknown as Device;
    const lanes = (rows: number, lanes: number, invocations: number, shuffle: boolean) => ({
      kernel: 'lanes',
      tile: { rows, columns: 8, invocations, lanes, shuffle },
    });
    expect(gemmPlan(on(lavapipe, 8), 128, 512)).toEqual(lanes(16, 8, 16, true));
    expect(gemmPlan(on(lavapipe, 8), 9, 512)).toEqual(lanes(16, 8, 16, true));
    expect(gemmPlan(on(lavapipe, 8), 8, 512)).toEqual(lanes(8, 8, 16, true));
    expect(gemmPlan(on(lavapipe, 8), 3, 512)).toEqual(lanes(4, 8, 16, true));
    expect(gemmPlan(on(lavapipe, undefined), 128, 512)).toEqual(lanes(4, 8, 16, false));
    expect(gemmPlan(on(swiftshader, 4), 128, 768)).toEqual(lanes(16, 4, 16, true));
    expect(gemmPlan(on(lavapipe, 8), 128, 514)).toEqual({ kernel: 'tiled' });
    expect(gemmPlan(on(nvidia, 32), 128, 512)).toEqual({ kernel: 'tiled' });
    expect(gemmPlan(on(blank, undefined), 128, 512)).toEqual({ kernel: 'tiled' });
    // A GPU whose limits do not fit the 256-invocation tiles (compatibility mode).
    expect(gemmPlan(on(nvidia, 32, 128), 128, 512)).toEqual(lanes(16, 32, 32, true));
    // And this machine's adapter.
    expect(gemmPlan(device, 128, 512).kernel).toBe(
      isCpuAdapter(device.adapterInfo) ? 'lanes' : 'tiled',
    );
  });

  // Tiles matmul does not pick on this adapter (odd sizes, several runs of lanes, no subgroups)
  // next to its own, and the tiled kernel, each on shapes that leave partial blocks of rows,
  // columns and K (K = 100: 25 quads of x, 3 subgroup blocks of 8 and 1 of 1 on lavapipe).
  const tilesOf = (dev: Device): GemmLanesTile[] => {
    const plan = gemmPlan(dev, 128, 512);
    const lanes = dev.features.subgroupSize;
    return [
      ...(plan.kernel === 'lanes' ? [plan.tile] : []),
      ...(lanes ? [{ rows: 3, columns: 3, invocations: 2 * lanes, lanes, shuffle: true }] : []),
      { rows: 5, columns: 2, invocations: 12, lanes: 4, shuffle: false },
    ];
  };
  const cases = [
    { m: 37, n: 150, k: 100, activation: 'gelu', residual: true },
    { m: 9, n: 21, k: 36, activation: 'gelu-tanh', residual: false },
    { m: 2, n: 70, k: 4, activation: 'none', residual: true },
  ] as const;

  for (const weight of ['f16 native', 'f16 packed', 'f32'] as const) {
    for (const { m, n, k, activation, residual } of cases) {
      it(`matches the reference on every tile for M=${m}, N=${n}, K=${k}, bias, ${activation}${residual ? ' + residual' : ''}, W ${weight}${weight === 'f16 native' ? ' where shader-f16' : ''}`, async () => {
        const dev = weight === 'f16 packed' ? packed : device;
        const xs = randomFloats(m * k, m + k, -2, 2);
        const w32 = randomFloats(n * k, n + k);
        const bits = f32ArrayToF16Bits(w32);
        const b32 = randomFloats(n, n);
        const bBits = f32ArrayToF16Bits(b32);
        const rs = randomFloats(m * n, m * n);
        const f16 = weight !== 'f32';
        // f16 weights with an f16 bias (so `enable f16` where shader-f16 is on), f32 with f32.
        const w = f16 ? dev.tensor(bits, [n, k]) : dev.tensor(w32, [n, k]);
        const b = f16 ? dev.tensor(bBits) : dev.tensor(b32);
        const x = dev.tensor(xs, [m, k]);
        const r = residual ? dev.tensor(rs, [m, n]) : undefined;
        const variant: LinearVariant = {
          weight: storageTypeOf(w),
          bias: storageTypeOf(b),
          residual,
          activation,
        };
        if (weight === 'f16 packed') expect(variant.weight).toBe('f16-packed');
        const linear = f16
          ? matmulReference(xs, f16BitsToF32Array(bits), m, n, k, f16BitsToF32Array(bBits))
          : matmulReference(xs, w32, m, n, k, b32);
        const expected = epilogueReference(linear, activation, residual ? rs : undefined);
        for (const tile of tilesOf(dev)) {
          const code = gemmLanesWgsl(variant, tile);
          const y = dispatchGemm(dev, code, gemmLanesGrid(tile, m, n), x, w, b, r);
          expectClose(await y.read(), expected, 1e-5, 1e-5);
        }
        const grid: [number, number] = [Math.ceil(n / GEMM_TILE), Math.ceil(m / GEMM_TILE)];
        const tiled = dispatchGemm(dev, gemmWgsl(variant), grid, x, w, b, r);
        expectClose(await tiled.read(), expected, 1e-5, 1e-5);
      });
    }
  }
});

describe('GEMM with weights in row chunks (each dispatch writes its own columns)', () => {
  let device: Device;
  beforeAll(async () => {
    // x, y and the residual fit in 90 kB; a [200, ~300] weight is 2 (f16) or 3 (f32) chunks.
    device = await testDevice({ maxBindingBytes: 90_000 });
  });
  afterAll(() => device.destroy());

  // K = 300 takes the lane-blocked kernel on CPU adapters, K = 298 (not a multiple of 4) the
  // tiled one everywhere.
  for (const [dtype, k] of [
    ['f16', 300],
    ['f32', 300],
    ['f16', 298],
    ['f32', 298],
  ] as const) {
    it(`matches the reference with bias, gelu and residual for an ${dtype} weight (M=70, N=200, K=${k})`, async () => {
      const [m, n] = [70, 200];
      const xs = randomFloats(m * k, 5, -2, 2);
      const w32 = randomFloats(n * k, 6);
      const bits = f32ArrayToF16Bits(w32);
      const b = randomFloats(n, 7);
      const r = randomFloats(m * n, 8);
      const weight = dtype === 'f16' ? device.tensor(bits, [n, k]) : device.tensor(w32, [n, k]);
      expect(weight.chunks.length).toBe(dtype === 'f16' ? 2 : 3);
      const before = device.stats.dispatches;
      const y = matmul(device.tensor(xs, [m, k]), weight, device.tensor(b), {
        activation: 'gelu',
        residual: device.tensor(r, [m, n]),
      });
      expect(device.stats.dispatches - before).toBe(weight.chunks.length);
      const w = dtype === 'f16' ? f16BitsToF32Array(bits) : w32;
      const expected = epilogueReference(matmulReference(xs, w, m, n, k, b), 'gelu', r);
      expectClose(await y.read(), expected, 1e-5, 1e-5);
    });
  }
});
