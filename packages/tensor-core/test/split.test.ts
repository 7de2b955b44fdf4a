import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  add,
  type Device,
  embedding,
  f16BitsToF32Array,
  f32ArrayToF16Bits,
  LimitExceededError,
  matmul,
} from '../src/index.js';
import { embeddingReference, matmulReference } from '../src/reference/index.js';
import { testDevice } from './gpu.js';
import { expectClose, randomFloats } from './numbers.js';

// pythia-1.4b's unembedding ([50304, 2048] f16, 206 MB) exceeds lavapipe's 128 MiB binding limit.
// The same path runs here with a 4 KiB limit and small tensors.
describe('tensors above the binding limit (split into row chunks)', () => {
  let device: Device;
  beforeAll(async () => {
    device = await testDevice({ maxBindingBytes: 4096 });
  });
  afterAll(() => device.destroy());

  it('reports the lowered limit and splits by whole rows', () => {
    expect(device.limits.maxStorageBufferBindingSize).toBe(4096);
    const w = device.zeros([50, 64], 'f16'); // 128-byte rows: 32 per 4 KiB chunk
    expect(w.chunks.map((c) => [c.firstRow, c.rows])).toEqual([
      [0, 32],
      [32, 18],
    ]);
    expect(() => w.buffer).toThrow(LimitExceededError);
    // Only matmul weights and embedding tables may be chunked; other ops say so.
    const chunked = device.zeros([200, 8]);
    expect(() => add(chunked, chunked)).toThrow(/only matmul weights and embedding tables/);
    // A 1-D tensor has no rows to split by.
    expect(() => device.zeros([1025])).toThrow(/split by rows/);
  });

  it('keeps chunks of odd-length f16 rows on 4-byte boundaries and round-trips data', async () => {
    const bits = f32ArrayToF16Bits(randomFloats(41 * 33, 1));
    const t = device.tensor(bits, [41, 33]); // 2706 bytes: fits one buffer
    expect(t.chunks.map((c) => c.rows)).toEqual([41]);
    // 66-byte rows: 62 fit in 4 KiB (an even count, so chunk 1 starts at an even element).
    const big = device.tensor(f32ArrayToF16Bits(randomFloats(101 * 33, 2)), [101, 33]);
    expect(big.chunks.map((c) => c.rows)).toEqual([62, 39]);
    await big.write(60, bits.subarray(0, 10)); // inside chunk 0
    await big.write(62 * 33 - 4, bits.subarray(0, 8)); // straddles chunks 0 and 1
    const expected = f32ArrayToF16Bits(randomFloats(101 * 33, 2));
    expected.set(bits.subarray(0, 10), 60);
    expected.set(bits.subarray(0, 8), 62 * 33 - 4);
    expect(await big.read()).toEqual(expected);
    expect(await t.read()).toEqual(bits);
  });

  for (const m of [1, 5]) {
    for (const dtype of ['f16', 'f32'] as const) {
      it(`matmul with a ${dtype} weight in chunks writes each chunk's columns (M=${m})`, async () => {
        const n = 150;
        const k = 40; // f16: 80-byte rows, 51 per chunk → 3 chunks; f32: 25 per chunk → 6
        const x = randomFloats(m * k, m);
        const w32 = randomFloats(n * k, 7);
        const bits = f32ArrayToF16Bits(w32);
        const weight = dtype === 'f16' ? device.tensor(bits, [n, k]) : device.tensor(w32, [n, k]);
        expect(weight.chunks.length).toBeGreaterThan(2);
        const b = randomFloats(n, 8);
        const r = randomFloats(m * n, 9);
        const y = matmul(device.tensor(x, [m, k]), weight, device.tensor(b), {
          residual: device.tensor(r, [m, n]),
        });
        const w = dtype === 'f16' ? f16BitsToF32Array(bits) : w32;
        const expected = matmulReference(x, w, m, n, k, b).map((v, i) => v + r[i]!);
        expectClose(await y.read(), expected, 1e-5, 1e-5);
      });
    }
  }

  it('embedding gathers from a chunked table, zeros for out-of-range ids', async () => {
    const table = randomFloats(300 * 8, 11); // 32-byte rows: 128 per chunk → 3 chunks
    const ids = new Uint32Array([0, 127, 128, 299, 300, 5000, 200]);
    const t = device.tensor(table, [300, 8]);
    expect(t.chunks.length).toBe(3);
    const y = embedding(device.tensor(ids), t);
    expect(await y.read()).toEqual(embeddingReference(ids, table, 8));
  });
});
