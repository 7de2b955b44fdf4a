import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Activation,
  type Device,
  dequantize,
  f16BitsToF32,
  f16BitsToF32Array,
  f32ArrayToF16Bits,
  f32ToF16Bits,
  matmul,
  type QuantFormat,
  QuantizedTensor,
  quantize,
  quantizeRows,
  ShapeError,
  TensorDisposedError,
} from '../src/index.js';
import { GEMM_TILE, gemmWgsl } from '../src/kernels/gemm.js';
import { type GemmLanesTile, gemmLanesGrid, gemmLanesWgsl } from '../src/kernels/gemm-lanes.js';
import type { LinearVariant } from '../src/kernels/linear.js';
import { gemmPlan } from '../src/ops/matmul.js';
import {
  addReference,
  geluReference,
  matmulReference,
  quantizeReference,
} from '../src/reference/index.js';
import { testDevice } from './gpu.js';
import { expectClose, randomFloats } from './numbers.js';

const FORMATS: readonly QuantFormat[] = ['q8', 'q4'];

/** Deterministic normal samples (Box–Muller over mulberry32 uniforms), times `scale`. */
function gaussian(n: number, seed: number, scale = 1): Float32Array<ArrayBuffer> {
  const u = randomFloats(2 * n, seed, 0, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = Math.sqrt(-2 * Math.log(1 - u[2 * i]!));
    out[i] = scale * r * Math.cos(2 * Math.PI * u[2 * i + 1]!);
  }
  return out;
}

/** Gaussian rows where every block of 32 has one weight 12 standard deviations out. */
function outlierRows(n: number, seed: number, scale = 0.02): Float32Array<ArrayBuffer> {
  const w = gaussian(n, seed, scale);
  for (let b = 0; b < n / 32; b++) w[32 * b + ((b * 7) % 32)] = (b % 2 ? 12 : -12) * scale;
  return w;
}

/** √(Σ(w − ŵ)² / Σw²): the quantization error relative to the weights' own size. */
function relativeRmse(w: ArrayLike<number>, approx: ArrayLike<number>): number {
  let err = 0;
  let sum = 0;
  for (let i = 0; i < w.length; i++) {
    err += (w[i]! - approx[i]!) ** 2;
    sum += w[i]! ** 2;
  }
  return Math.sqrt(err / sum);
}

/**
 * The asymmetric alternative for q4 (llama.cpp's Q4_1, MatMulNBits with zero points): per block
 * an f16 minimum m and an f16 step d = (max − min)/15, w ≈ q·d + m, 5 bits per weight. Only here,
 * to measure what the 0.5 extra bit per weight would buy.
 */
function q4AsymmetricDequantized(w: Float32Array): Float32Array {
  const out = new Float32Array(w.length);
  for (let b = 0; b < w.length; b += 32) {
    const block = w.subarray(b, b + 32);
    const lo = f16BitsToF32(f32ToF16Bits(Math.min(...block)));
    const d = f16BitsToF32(f32ToF16Bits((Math.max(...block) - lo) / 15));
    for (let i = 0; i < 32; i++) {
      const q = d === 0 ? 0 : Math.max(0, Math.min(15, Math.round((block[i]! - lo) / d)));
      out[b + i] = q * d + lo;
    }
  }
  return out;
}

describe('quantizeReference (the formats on the CPU)', () => {
  it('packs a hand-checked q8 block: d = max|w|/127, q = round(w/d) half away from zero', () => {
    const w = new Float32Array(32);
    w.set([127, -127, 1, -1, 0.5, -0.5, 2.4, -2.6]);
    const { values, scales, dequantized } = quantizeReference(w, [1, 32], 'q8');
    expect(scales[0]).toBe(0x3c00); // d = 1
    // Weight 4i + j is byte j of word i: [127, −127, 1, −1] and [1, −1, 2, −3].
    expect(Array.from(values)).toEqual([0xff01817f, 0xfd02ff01, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(dequantized.subarray(0, 8))).toEqual([127, -127, 1, -1, 1, -1, 2, -3]);
  });

  it('packs a hand-checked q4 block: d = (the weight of largest magnitude)/−8, q = ⌊w/d + 8.5⌋', () => {
    const w = new Float32Array(32);
    w.set([-8, 7, 0, 1, -1, 3.4, 7.6, 0.5]);
    const { values, scales, dequantized } = quantizeReference(w, [1, 32], 'q4');
    expect(scales[0]).toBe(0x3c00); // d = −8/−8 = 1
    // q = [0, 15, 8, 9, 7, 11, 15 (16 clamped), 9], weight 8i + j in bits 4j…4j+3 of word i.
    expect(Array.from(values)).toEqual([0x9fb798f0, 0x88888888, 0x88888888, 0x88888888]);
    expect(Array.from(dequantized.subarray(0, 8))).toEqual([-8, 7, 0, 1, -1, 3, 7, 1]);
    // A positive extreme gives a negative scale, so that it too lands on q = 0 (−8·d).
    const flipped = quantizeReference(
      w.map((v) => -v),
      [1, 32],
      'q4',
    );
    expect(flipped.scales[0]).toBe(0xbc00); // d = −1
    // (8 − 8)·(−1) is −0; + 0 makes it 0 for the comparison.
    expect(Array.from(flipped.dequantized.subarray(0, 8), (v) => v + 0)).toEqual([
      8, -7, 0, -1, 1, -3, -7, -1,
    ]);
  });

  it('gives an all-zero block scale 0 and zeros, not NaN', () => {
    for (const format of FORMATS) {
      const { values, scales, dequantized } = quantizeReference(
        new Float32Array(64),
        [2, 32],
        format,
      );
      expect(Array.from(scales)).toEqual([0, 0]);
      expect(dequantized.every((v) => Object.is(v, 0))).toBe(true);
      expect(values.every((v) => v === (format === 'q8' ? 0 : 0x88888888))).toBe(true);
    }
  });

  for (const format of FORMATS) {
    it(`${format}: rounds each block's scale up to an f16 and keeps every error within |d|/2 (clamped q4 within |d|)`, () => {
      const w = new Float32Array([...gaussian(64 * 32, 1, 0.02), ...outlierRows(64 * 32, 2)]);
      const { dequantized, scales, values } = quantizeReference(w, [128, 32], format);
      let clamped = 0;
      for (let b = 0; b < 128; b++) {
        const d = Math.abs(f16BitsToF32(scales[b]!));
        const block = w.subarray(32 * b, 32 * b + 32);
        const maxAbs = Math.max(...block.map(Math.abs));
        // The scale is the smallest f16 with |d|·(127 or 8) ≥ max|w|.
        expect(d * (format === 'q8' ? 127 : 8)).toBeGreaterThanOrEqual(maxAbs);
        expect(d * (1 - 2 ** -10) * (format === 'q8' ? 127 : 8)).toBeLessThan(maxAbs);
        for (let i = 0; i < 32; i++) {
          const e = 32 * b + i;
          const error = Math.abs(w[e]! - dequantized[e]!);
          const q = format === 'q4' ? (values[e >> 3]! >>> (4 * (e & 7))) & 15 : 0;
          if (format === 'q4' && q === 15 && error > d / 2) {
            clamped++;
            expect(error).toBeLessThanOrEqual(d);
          } else {
            expect(error).toBeLessThanOrEqual(d / 2);
          }
        }
      }
      if (format === 'q8') expect(clamped).toBe(0);
    });

    it(`${format}: keeps a block's one outlier within |d|/2 while the rest of the block coarsens`, () => {
      const w = gaussian(32, 3, 0.02);
      w[5] = 1; // 50 standard deviations
      const { dequantized, scales } = quantizeReference(w, [1, 32], format);
      const d = Math.abs(f16BitsToF32(scales[0]!));
      expect(d).toBeCloseTo(format === 'q8' ? 1 / 127 : 1 / 8, 3);
      expect(Math.abs(dequantized[5]! - 1)).toBeLessThanOrEqual(d / 2);
      // The other weights are far below d: q8 keeps a few levels of them, q4 rounds them all to 0.
      const others = Array.from(dequantized).filter((_, i) => i !== 5);
      if (format === 'q4') expect(others.every((v) => v === 0)).toBe(true);
      else expect(new Set(others).size).toBeGreaterThan(3);
    });

    it(`${format}: reads f16 bit patterns as the f32 values they stand for`, () => {
      const bits = f32ArrayToF16Bits(gaussian(4 * 64, 4, 0.05));
      const fromBits = quantizeReference(bits, [4, 64], format);
      const fromF32 = quantizeReference(f16BitsToF32Array(bits), [4, 64], format);
      expect(fromBits.values).toEqual(fromF32.values);
      expect(fromBits.scales).toEqual(fromF32.scales);
    });
  }

  it('measures the error of each format on normal and outlier-heavy rows (why q4 is symmetric)', () => {
    const rows = { normal: gaussian(256 * 512, 5, 0.02), outliers: outlierRows(256 * 512, 6) };
    type Errors = { q8: number; q4: number; q4Asymmetric: number };
    const measured: Record<string, Errors> = {};
    for (const [kind, w] of Object.entries(rows)) {
      measured[kind] = {
        q8: relativeRmse(w, quantizeReference(w, [256, 512], 'q8').dequantized),
        q4: relativeRmse(w, quantizeReference(w, [256, 512], 'q4').dequantized),
        q4Asymmetric: relativeRmse(w, q4AsymmetricDequantized(w)),
      };
    }
    const { normal, outliers } = measured as Record<'normal' | 'outliers', Errors>;
    // Figures quoted in the README (relative RMS error; seeded, so they do not move).
    expect(normal.q8).toBeCloseTo(0.0053, 4);
    expect(normal.q4).toBeCloseTo(0.0858, 4);
    expect(normal.q4Asymmetric).toBeCloseTo(0.0782, 4);
    expect(outliers.q8).toBeCloseTo(0.0115, 4);
    expect(outliers.q4).toBeCloseTo(0.1823, 4);
    expect(outliers.q4Asymmetric).toBeCloseTo(0.1124, 4);
    // On normal rows (most of a trained matrix) a zero point buys under 15 % less error for 11 %
    // more bits; it pays only where a block holds an outlier.
    expect(normal.q4Asymmetric / normal.q4).toBeGreaterThan(0.85);
    // q8 is ~16× more precise than q4 on either kind.
    expect(normal.q4 / normal.q8).toBeGreaterThan(14);
  });

  it('states the bits per weight, scales included', () => {
    expect(QuantizedTensor.bytesPerWeight('q8') * 8).toBe(8.5);
    expect(QuantizedTensor.bytesPerWeight('q4') * 8).toBe(4.5);
  });

  it('rejects K that is not a multiple of 32', () => {
    expect(() => quantizeReference(new Float32Array(40), [2, 20], 'q8')).toThrow(RangeError);
  });
});

/** Rows `rows` of a row-major matrix with rows of `k`. */
function gatherRows(matrix: Float32Array, rows: Uint32Array, k: number): Float32Array {
  const out = new Float32Array(rows.length * k);
  for (const [i, r] of rows.entries()) out.set(matrix.subarray(r * k, (r + 1) * k), i * k);
  return out;
}

/** What matmul should give: the f32 reference on the dequantized weights, then the epilogue. */
function expectedLinear(
  x: Float32Array,
  w: Float32Array,
  m: number,
  n: number,
  k: number,
  options: { bias?: Float32Array; activation?: Activation; residual?: Float32Array } = {},
): Float32Array {
  let y: Float32Array = matmulReference(x, w, m, n, k, options.bias);
  if (options.activation === 'gelu') y = geluReference(y);
  if (options.residual) y = addReference(y, options.residual);
  return y;
}

// Device options under test: the adapter as it is (lavapipe: shader-f16 and subgroups), and with
// neither (f16 scales still read with unpack2x16float; GEMV reduced in workgroup memory).
for (const options of [{}, { disableF16: true, disableSubgroups: true }]) {
  const label =
    'disableF16' in options ? 'without shader-f16 or subgroups' : 'on the adapter as is';
  describe(`quantized matrices on the GPU, ${label}`, () => {
    let device: Device;
    beforeAll(async () => {
      device = await testDevice(options);
    });
    afterAll(() => device.destroy());

    it(
      'disableF16' in options
        ? 'really lacks both features (GEMV reduced in workgroup memory)'
        : 'knows the subgroup size (GEMV reduced per subgroup)',
      () => {
        if ('disableF16' in options) {
          expect(device.features.shaderF16).toBe(false);
          expect(device.features.subgroupSize).toBeUndefined();
        } else {
          expect(device.features.subgroupSize).toBeGreaterThan(0);
        }
      },
    );

    for (const format of FORMATS) {
      // K = 160: an odd number of blocks per row, so rows share scale words.
      it(`${format}: dequantize equals quantizeReference bit for bit, whole and by rows`, async () => {
        const [n, k] = [37, 160];
        const w = new Float32Array([...gaussian(30 * k, 7, 0.05), ...outlierRows(7 * k, 8)]);
        w.fill(0, 3 * k, 4 * k); // an all-zero row
        const ref = quantizeReference(w, [n, k], format);
        const q = quantize(device, w, [n, k], format);
        expect(q.shape).toEqual([n, k]);
        // Values and scales, padded to 16 bytes.
        expect(q.byteLength).toBe(
          16 * Math.ceil((n * k * QuantizedTensor.bytesPerWeight(format)) / 16),
        );
        const whole = dequantize(q);
        expect(whole.shape).toEqual([n, k]);
        expect(await whole.read()).toEqual(ref.dequantized);
        const rows = new Uint32Array([36, 0, 3, 17, 17, 35]);
        const picked = gatherRows(ref.dequantized, rows, k);
        expect(await dequantize(q, rows).read()).toEqual(picked);
        // Indices in a tensor: out of range gives a row of zeros.
        const onGpu = dequantize(q, device.tensor(new Uint32Array([35, 1000])));
        const expected = new Float32Array(2 * k);
        expected.set(ref.dequantized.subarray(35 * k, 36 * k));
        expect(await onGpu.read()).toEqual(expected);
      });

      it(`${format}: quantizes f16 inputs as their f32 values`, async () => {
        const bits = f32ArrayToF16Bits(gaussian(9 * 64, 9, 0.05));
        const q = quantize(device, bits, [9, 64], format);
        expect(await dequantize(q).read()).toEqual(
          quantizeReference(bits, [9, 64], format).dequantized,
        );
      });

      for (const { m, n, k } of [
        { m: 1, n: 96, k: 160 },
        { m: 1, n: 37, k: 512 },
        { m: 7, n: 96, k: 160 },
        { m: 70, n: 130, k: 64 },
      ]) {
        const kind = m === 1 ? 'GEMV' : 'GEMM';
        it(`${format} ${kind} M=${m}, N=${n}, K=${k}: matmul equals the f32 product with the dequantized weights`, async () => {
          const w = gaussian(n * k, n + k, 0.05);
          const x = randomFloats(m * k, m + k, -2, 2);
          const bias = randomFloats(n, n);
          const residual = randomFloats(m * n, m * n);
          const { dequantized } = quantizeReference(w, [n, k], format);
          const q = quantize(device, w, [n, k], format);
          const xT = device.tensor(x, [m, k]);
          const plain = matmul(xT, q);
          const before = device.stats.dispatches;
          const fused = matmul(xT, q, device.tensor(bias), {
            activation: 'gelu',
            residual: device.tensor(residual, [m, n]),
          });
          expect(device.stats.dispatches - before).toBe(1);
          const f16Bias = matmul(xT, q, device.tensor(f32ArrayToF16Bits(bias)));
          expect(plain.shape).toEqual([m, n]);
          expectClose(await plain.read(), expectedLinear(x, dequantized, m, n, k), 1e-5, 1e-5);
          expectClose(
            await fused.read(),
            expectedLinear(x, dequantized, m, n, k, { bias, activation: 'gelu', residual }),
            1e-5,
            1e-5,
          );
          const f16b = f16BitsToF32Array(f32ArrayToF16Bits(bias));
          expectClose(
            await f16Bias.read(),
            expectedLinear(x, dequantized, m, n, k, { bias: f16b }),
            1e-5,
            1e-5,
          );
        });
      }
    }

    // matmul picks one GEMM per adapter (lanes on CPU adapters, tiled on GPUs): run the others
    // too, straight from their WGSL, on a quantized weight.
    for (const format of FORMATS) {
      it(`${format}: every GEMM kernel (tiled, lanes with and without subgroupShuffle) equals the reference`, async () => {
        const [m, n, k] = [37, 150, 96];
        const w = gaussian(n * k, 20, 0.05);
        const xs = randomFloats(m * k, 21, -2, 2);
        const bias = randomFloats(n, 22);
        const residual = randomFloats(m * n, 23);
        const { dequantized } = quantizeReference(w, [n, k], format);
        const q = quantize(device, w, [n, k], format);
        const variant: LinearVariant = {
          weight: 'f32',
          quant: format,
          bias: 'f32',
          residual: true,
          activation: 'gelu',
        };
        const expected = expectedLinear(xs, dequantized, m, n, k, {
          bias,
          activation: 'gelu',
          residual,
        });
        const plan = gemmPlan(device, 128, 512);
        const lanes = device.features.subgroupSize;
        const tiles: GemmLanesTile[] = [
          ...(plan.kernel === 'lanes' ? [plan.tile] : []),
          ...(lanes ? [{ rows: 3, columns: 3, invocations: 2 * lanes, lanes, shuffle: true }] : []),
          { rows: 5, columns: 2, invocations: 12, lanes: 4, shuffle: false },
        ];
        const run = (code: string, workgroups: [number, number]) => {
          const y = device.empty([m, n]);
          device.dispatch({
            code,
            bindings: [
              device.tensor(xs, [m, k]),
              q.chunks[0]!.tensor,
              device.tensor(bias),
              device.tensor(residual, [m, n]),
              y,
            ],
            uniforms: new Uint32Array([m, n, k, n, 0]),
            workgroups,
          });
          return y.read();
        };
        for (const tile of tiles) {
          const y = await run(gemmLanesWgsl(variant, tile), gemmLanesGrid(tile, m, n));
          expectClose(y, expected, 1e-5, 1e-5);
        }
        const grid: [number, number] = [Math.ceil(n / GEMM_TILE), Math.ceil(m / GEMM_TILE)];
        expectClose(await run(gemmWgsl(variant), grid), expected, 1e-5, 1e-5);
      });
    }

    it('writeRows in pieces, in any order, equals quantize in one go (odd K/32: shared scale words)', async () => {
      for (const format of FORMATS) {
        const [n, k] = [11, 96]; // 3 blocks a row
        const w = gaussian(n * k, 10, 0.05);
        const q = QuantizedTensor.create(device, [n, k], format);
        // Zeros until written (q4's q = 0 nibbles are (0 − 8)·0, −0).
        expect((await dequantize(q).read()).every((v) => v === 0)).toBe(true);
        const piece = (from: number, to: number) => w.subarray(from * k, to * k);
        await q.writeRows(5, piece(5, 8));
        await q.writeRows(
          0,
          f32ArrayToF16Bits(piece(0, 1)).map((_, i) => f32ToF16Bits(piece(0, 1)[i]!)),
        );
        await q.writeRows(8, piece(8, 11));
        await q.writeRows(1, piece(1, 5));
        await q.writeRows(0, piece(0, 1)); // rewriting a row keeps its neighbour's scale
        const whole = quantize(device, w, [n, k], format);
        const expected = quantizeReference(w, [n, k], format).dequantized;
        expect(await dequantize(q).read()).toEqual(expected);
        expect(await dequantize(whole).read()).toEqual(expected);
        q.dispose();
        whole.dispose();
      }
    });

    it('writeQuantizedRows uploads rows quantized by quantizeRows as writeRows would (a cache of the quantized model reloads exactly)', async () => {
      for (const format of FORMATS) {
        const [n, k] = [11, 96]; // 3 blocks a row: pieces share scale words at odd blocks
        const w = gaussian(n * k, 21, 0.05);
        const q = QuantizedTensor.create(device, [n, k], format);
        for (const [from, to] of [
          [4, 11],
          [0, 3],
          [3, 4],
        ] as const) {
          const rows = quantizeRows(w.subarray(from * k, to * k), k, format);
          expect([rows.values.length, rows.scales.length]).toEqual([
            (to - from) * (format === 'q8' ? k / 4 : k / 8),
            (to - from) * 3,
          ]);
          await q.writeQuantizedRows(from, rows);
        }
        expect(await dequantize(q).read()).toEqual(
          quantizeReference(w, [n, k], format).dequantized,
        );
        const one = quantizeRows(w.subarray(0, k), k, format);
        expect(() =>
          q.writeQuantizedRows(0, { values: one.values, scales: one.scales.subarray(1) }),
        ).toThrow(/not the same whole rows/);
        expect(() => q.writeQuantizedRows(n, one)).toThrow(/outside the 11 rows/);
        expect(() => quantizeRows(w.subarray(0, 48), 48, format)).toThrow(ShapeError);
        q.dispose();
      }
    });

    it('rejects bad shapes, data lengths, rows out of range and disposed matrices', () => {
      expect(() => QuantizedTensor.create(device, [4, 48], 'q8')).toThrow(ShapeError);
      expect(() => QuantizedTensor.create(device, [4, 48], 'q8')).toThrow(/multiple of 32/);
      expect(() => quantize(device, new Float32Array(64), [4, 16], 'q4')).toThrow(/multiple of 32/);
      expect(() => quantize(device, new Float32Array(65), [2, 32], 'q4')).toThrow(ShapeError);
      const q = QuantizedTensor.create(device, [4, 32], 'q4');
      expect(() => q.writeRows(0, new Float32Array(33))).toThrow(/whole rows/);
      expect(() => q.writeRows(3, new Float32Array(64))).toThrow(/outside the 4 rows/);
      expect(() => q.writeRows(-1, new Float32Array(32))).toThrow(ShapeError);
      expect(() => dequantize(q, new Uint32Array([4]))).toThrow(/out of range/);
      expect(() => matmul(device.zeros([2, 64]), q)).toThrow(/weight must be \[N, 64\]/);
      q.dispose();
      expect(q.disposed).toBe(true);
      expect(() => q.writeRows(0, new Float32Array(32))).toThrow(TensorDisposedError);
      expect(() => dequantize(q)).toThrow(TensorDisposedError);
      expect(() => matmul(device.zeros([1, 32]), q)).toThrow(TensorDisposedError);
    });
  });
}

describe('quantized matrices in row chunks (above the binding limit)', () => {
  let device: Device;
  beforeAll(async () => {
    device = await testDevice({ maxBindingBytes: 8192 });
  });
  afterAll(() => device.destroy());

  for (const format of FORMATS) {
    for (const m of [1, 7]) {
      it(`${format}, M=${m}: matmul runs one dispatch per chunk and equals the reference; dequantize by rows gathers across chunks`, async () => {
        const [n, k] = [200, 160]; // q4: 90 bytes a row, 3 chunks; q8: 170 bytes, 5 chunks
        const w = gaussian(n * k, 11, 0.05);
        const x = randomFloats(m * k, 12, -2, 2);
        const bias = randomFloats(n, 13);
        const residual = randomFloats(m * n, 14);
        const ref = quantizeReference(w, [n, k], format);
        const q = QuantizedTensor.create(device, [n, k], format);
        expect(q.chunks.length).toBe(format === 'q4' ? 3 : 5);
        expect(q.chunks.every((c) => c.rows % 2 === 0 || c.firstRow + c.rows === n)).toBe(true);
        // Streamed in pieces that straddle the chunk boundaries, half of them quantized first.
        for (let row = 0; row < n; row += 33) {
          const piece = w.subarray(row * k, Math.min(n, row + 33) * k);
          if (row % 66 === 0) await q.writeRows(row, piece);
          else await q.writeQuantizedRows(row, quantizeRows(piece, k, format));
        }
        const before = device.stats.dispatches;
        const y = matmul(device.tensor(x, [m, k]), q, device.tensor(bias), {
          activation: 'gelu',
          residual: device.tensor(residual, [m, n]),
        });
        expect(device.stats.dispatches - before).toBe(q.chunks.length);
        expectClose(
          await y.read(),
          expectedLinear(x, ref.dequantized, m, n, k, { bias, activation: 'gelu', residual }),
          1e-5,
          1e-5,
        );
        const rows = new Uint32Array([199, 0, 91, 90, 47, 48]);
        const picked = gatherRows(ref.dequantized, rows, k);
        expect(await dequantize(q, rows).read()).toEqual(picked);
      });
    }
  }
});
