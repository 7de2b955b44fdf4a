import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attention,
  attentionWithProbs,
  type Device,
  type PackedSegment,
  packSequences,
  rotary,
  type SequencePacking,
  ShapeError,
  splitQkv,
  splitQkvRotary,
  type Tensor,
  TensorDisposedError,
  writeKvCache,
} from '../src/index.js';
import { splitByDefault } from '../src/ops/attention.js';
import { placeRows } from '../src/packing.js';
import {
  attentionReference,
  rotaryReference,
  splitQkvRotaryReference,
} from '../src/reference/index.js';
import { testDevice } from './gpu.js';
import { expectClose, randomFloats } from './numbers.js';

const HEADS = 2;
const ROTARY_DIMS = 16;

// Three sequences of different lengths and cached prefixes, with unused cache rows between them:
// A adds 5 tokens after 12 cached (rows 0…16), B 1 after 30 (rows 40…70), C 9 after 3 (rows 75…86).
const THREE: PackedSegment[] = [
  { cacheStart: 0, position: 12, length: 5 },
  { cacheStart: 40, position: 30, length: 1 },
  { cacheStart: 75, position: 3, length: 9 },
];
const THREE_MAX_POSITIONS = 96;

// Batched decoding: one token each over 301, 701, 258 and 1030 keys (the split path's territory).
const DECODE: PackedSegment[] = [
  { cacheStart: 0, position: 300, length: 1 },
  { cacheStart: 320, position: 700, length: 1 },
  { cacheStart: 1040, position: 257, length: 1 },
  { cacheStart: 1300, position: 1029, length: 1 },
];
const DECODE_MAX_POSITIONS = 2336;

/** First packed row of each segment. */
function firstRows(segments: readonly PackedSegment[]): number[] {
  const rows: number[] = [];
  let at = 0;
  for (const s of segments) {
    rows.push(at);
    at += s.length;
  }
  return rows;
}

/** Rows [start, start + count) of every head of a cache [heads, maxPositions, headDim]. */
function cacheRows(
  cache: Float32Array,
  sizes: { heads: number; maxPositions: number; headDim: number },
  start: number,
  count: number,
): Float32Array {
  const { heads, maxPositions, headDim } = sizes;
  const out = new Float32Array(heads * count * headDim);
  for (let h = 0; h < heads; h++) {
    const from = (h * maxPositions + start) * headDim;
    out.set(cache.subarray(from, from + count * headDim), h * count * headDim);
  }
  return out;
}

/** Overwrites rows [start, start + count) of every head of a cache with `value`. */
function fillCacheRows(
  cache: Float32Array,
  sizes: { heads: number; maxPositions: number; headDim: number },
  start: number,
  count: number,
  value: number,
): void {
  const { maxPositions, headDim } = sizes;
  for (let h = 0; h < sizes.heads; h++) {
    const from = (h * maxPositions + start) * headDim;
    cache.fill(value, from, from + count * headDim);
  }
}

/** Rows [first, first + count) of a row-major [rows, width] array. */
function rowsOf(data: Float32Array, width: number, first: number, count: number): Float32Array {
  return data.subarray(first * width, (first + count) * width);
}

let device: Device;
beforeAll(async () => {
  device = await testDevice();
});
afterAll(() => device?.destroy());

describe('packSequences (several sequences in one batch)', () => {
  it('places 5, 1 and 9 tokens: 15 rows, 31 keys at most, caches of 87 rows needed', async () => {
    const packing = packSequences(device, THREE);
    expect(packing.tokens).toBe(15);
    expect(packing.maxKeys).toBe(31); // B: position 30 + 1 token
    expect(packing.cacheRows).toBe(87); // C: 75 + 3 + 9
    expect(packing.segments).toEqual(THREE);
    expect(Object.isFrozen(packing.segments)).toBe(true);
    // The GPU table: (cacheStart, position) per packed row.
    const { table } = placeRows('test', { packing }, 15, device);
    const expected = [
      ...[12, 13, 14, 15, 16].flatMap((p) => [0, p]),
      40,
      30,
      ...[3, 4, 5, 6, 7, 8, 9, 10, 11].flatMap((p) => [75, p]),
    ];
    expect(Array.from(await table!.read())).toEqual(expected);
    packing.dispose();
    expect(packing.disposed).toBe(true);
  });

  it('counts a sequence that does not advance (length 0) towards cacheRows but not maxKeys', () => {
    const packing = packSequences(device, [
      { cacheStart: 0, position: 4, length: 2 },
      { cacheStart: 100, position: 50, length: 0 },
    ]);
    expect([packing.tokens, packing.maxKeys, packing.cacheRows]).toEqual([2, 6, 150]);
    packing.dispose();
  });

  it('rejects bad segments with a ShapeError that names the segment', () => {
    const bad = (segments: PackedSegment[]) => () => packSequences(device, segments);
    expect(bad([])).toThrow(/at least one segment/);
    expect(bad([{ cacheStart: -1, position: 0, length: 1 }])).toThrow(
      /segment 0 has cacheStart -1.*non-negative integers/,
    );
    expect(
      bad([
        { cacheStart: 0, position: 0, length: 1 },
        { cacheStart: 8, position: 1.5, length: 1 },
      ]),
    ).toThrow(/segment 1 has position 1.5/);
    expect(bad([{ cacheStart: 0, position: 0, length: Number.NaN }])).toThrow(ShapeError);
    expect(bad([{ cacheStart: 0, position: 2 ** 24 - 1, length: 2 }])).toThrow(
      /reaches position 16777216; positions must stay below 2\^24/,
    );
    // B's rows 10…19 run into C's cached rows 16…: B would overwrite C's keys and read them.
    expect(
      bad([
        { cacheStart: 0, position: 3, length: 1 },
        { cacheStart: 10, position: 8, length: 2 },
        { cacheStart: 16, position: 5, length: 0 },
      ]),
    ).toThrow(/segments 1 \(cache rows 10…19\) and 2 \(cache rows 16…20\) overlap/);
  });
});

describe('packed splitQkvRotary and attention equal each sequence run alone', () => {
  for (const headDim of [64, 80]) {
    it(`3 sequences (5, 1, 9 tokens after 12, 30, 3 cached; cache rows 0, 40, 75), headDim ${headDim}`, async () => {
      const sizes = { heads: HEADS, maxPositions: THREE_MAX_POSITIONS, headDim };
      const cacheShape = [HEADS, THREE_MAX_POSITIONS, headDim];
      const width = HEADS * 3 * headDim;
      const qkv = randomFloats(15 * width, headDim, -2, 2);
      const k0 = randomFloats(HEADS * THREE_MAX_POSITIONS * headDim, headDim + 1, -2, 2);
      const v0 = randomFloats(HEADS * THREE_MAX_POSITIONS * headDim, headDim + 2);
      const kCache = device.tensor(k0, cacheShape);
      const vCache = device.tensor(v0, cacheShape);
      const packing = packSequences(device, THREE);
      const q = splitQkvRotary(device.tensor(qkv, [15, width]), kCache, vCache, {
        heads: HEADS,
        rotaryDims: ROTARY_DIMS,
        packing,
      });
      const before = device.stats.dispatches;
      const output = attention(q, kCache, vCache, { packing, lanes: false });
      expect(device.stats.dispatches - before).toBe(1); // 31 keys at most: nothing to split
      const withProbs = attentionWithProbs(q, kCache, vCache, { packing });
      packing.dispose(); // the recorded kernels keep the table
      expect(output.shape).toEqual([15, HEADS * headDim]);
      expect(withProbs.probs.shape).toEqual([HEADS, 15, 31]);
      const [packedQ, packedK, packedV, packedOut, packedProbs] = await Promise.all([
        q.read(),
        kCache.read(),
        vCache.read(),
        output.read(),
        withProbs.probs.read(),
      ]);
      expect(await withProbs.output.read()).toEqual(packedOut);

      const first = firstRows(THREE);
      for (const [s, { cacheStart, position, length }] of THREE.entries()) {
        // Alone: caches holding only this sequence's rows, filled as the packed caches were.
        const rows = position + length;
        const kAlone = device.tensor(cacheRows(k0, sizes, cacheStart, rows), [
          HEADS,
          rows,
          headDim,
        ]);
        const vAlone = device.tensor(cacheRows(v0, sizes, cacheStart, rows), [
          HEADS,
          rows,
          headDim,
        ]);
        const rope = { rotaryDims: ROTARY_DIMS, positionOffset: position };
        const qAlone = splitQkvRotary(
          device.tensor(rowsOf(qkv, width, first[s]!, length), [length, width]),
          kAlone,
          vAlone,
          { heads: HEADS, ...rope },
        );
        const alone = attentionWithProbs(qAlone, kAlone, vAlone, { positionOffset: position });
        const qRow = HEADS * headDim;
        expect(rowsOf(packedQ, qRow, first[s]!, length)).toEqual(await qAlone.read());
        expect(rowsOf(packedOut, qRow, first[s]!, length)).toEqual(await alone.output.read());
        expect(cacheRows(packedK, sizes, cacheStart, rows)).toEqual(await kAlone.read());
        expect(cacheRows(packedV, sizes, cacheStart, rows)).toEqual(await vAlone.read());
        // Probability rows: the sequence's own keys 0…p, then zeros up to maxKeys = 31.
        const aloneProbs = await alone.probs.read();
        for (let h = 0; h < HEADS; h++) {
          for (let i = 0; i < length; i++) {
            const row = packedProbs.subarray(
              (h * 15 + first[s]! + i) * 31,
              (h * 15 + first[s]! + i + 1) * 31,
            );
            const aloneRow = aloneProbs.subarray(
              (h * length + i) * rows,
              (h * length + i + 1) * rows,
            );
            expect(row.subarray(0, rows)).toEqual(aloneRow);
            expect(Array.from(row.subarray(rows))).toEqual(new Array(31 - rows).fill(0));
          }
        }
      }
      // Cache rows outside the three sequences' ranges are untouched.
      for (const [start, count] of [
        [17, 23],
        [71, 4],
        [87, 9],
      ] as const) {
        expect(cacheRows(packedK, sizes, start, count)).toEqual(cacheRows(k0, sizes, start, count));
        expect(cacheRows(packedV, sizes, start, count)).toEqual(cacheRows(v0, sizes, start, count));
      }
    });
  }

  it('matches the CPU references (q, both caches, output, probabilities), headDim 64', async () => {
    const headDim = 64;
    const sizes = { tokens: 15, heads: HEADS, headDim, maxPositions: THREE_MAX_POSITIONS };
    const cacheShape = [HEADS, THREE_MAX_POSITIONS, headDim];
    const width = HEADS * 3 * headDim;
    const qkv = randomFloats(15 * width, 5, -2, 2);
    const k0 = randomFloats(HEADS * THREE_MAX_POSITIONS * headDim, 6, -2, 2);
    const v0 = randomFloats(HEADS * THREE_MAX_POSITIONS * headDim, 7);
    const kCache = device.tensor(k0, cacheShape);
    const vCache = device.tensor(v0, cacheShape);
    const packing = packSequences(device, THREE);
    const q = splitQkvRotary(device.tensor(qkv, [15, width]), kCache, vCache, {
      heads: HEADS,
      rotaryDims: ROTARY_DIMS,
      packing,
    });
    const { output, probs } = attentionWithProbs(q, kCache, vCache, { packing });
    packing.dispose();
    const split = splitQkvRotaryReference(qkv, k0, v0, {
      ...sizes,
      rotaryDims: ROTARY_DIMS,
      segments: THREE,
    });
    expectClose(await q.read(), split.q, 1e-5, 1e-6);
    expectClose(await kCache.read(), split.kCache, 1e-5, 1e-6);
    expect(await vCache.read()).toEqual(split.vCache);
    const expected = attentionReference(await q.read(), split.kCache, split.vCache, {
      ...sizes,
      segments: THREE,
    });
    expectClose(await output.read(), expected.output, 1e-5, 1e-6);
    expectClose(await probs.read(), expected.probs, 1e-5, 1e-7);
  });

  it('the unfused path (splitQkv, rotary, writeKvCache) equals the fused op bit for bit', async () => {
    const headDim = 80;
    const cacheShape = [HEADS, THREE_MAX_POSITIONS, headDim];
    const width = HEADS * 3 * headDim;
    const qkv = device.tensor(randomFloats(15 * width, 9, -2, 2), [15, width]);
    const packing = packSequences(device, THREE);
    const rope = { rotaryDims: 20, packing };
    const cache = () => device.zeros(cacheShape);
    const [kFused, vFused, kOurs, vOurs] = [cache(), cache(), cache(), cache()];
    const qFused = splitQkvRotary(qkv, kFused, vFused, { heads: HEADS, ...rope });
    const { q, k, v } = splitQkv(qkv, { heads: HEADS });
    writeKvCache(rotary(k, rope), v, kOurs, vOurs, { packing });
    const rotated = rotary(q, rope);
    packing.dispose();
    expect(await rotated.read()).toEqual(await qFused.read());
    expect(await kOurs.read()).toEqual(await kFused.read());
    expect(await vOurs.read()).toEqual(await vFused.read());
  });

  it('rotary rotates each packed row by its own position (CPU reference; alone bit for bit)', async () => {
    const [tokens, headDim] = [15, 64];
    const x = randomFloats(tokens * HEADS * headDim, 21);
    const packing = packSequences(device, THREE);
    const y = await rotary(device.tensor(x, [tokens, HEADS, headDim]), {
      rotaryDims: 32,
      packing,
    }).read();
    packing.dispose();
    const sizes = { tokens, heads: HEADS, headDim, rotaryDims: 32 };
    expectClose(y, rotaryReference(x, { ...sizes, segments: THREE }), 1e-5, 1e-6);
    const first = firstRows(THREE);
    for (const [s, { position, length }] of THREE.entries()) {
      const rows = rowsOf(x, HEADS * headDim, first[s]!, length);
      const alone = rotary(device.tensor(rows, [length, HEADS, headDim]), {
        rotaryDims: 32,
        positionOffset: position,
      });
      expect(rowsOf(y, HEADS * headDim, first[s]!, length)).toEqual(await alone.read());
    }
  });

  it('sequences never attend to each other: poisoning B’s cache rows and the gaps with keys of 1e4 and values of 1e6 leaves A and C bit-identical (probs too)', async () => {
    const headDim = 64;
    const sizes = { heads: HEADS, maxPositions: THREE_MAX_POSITIONS, headDim };
    const cacheShape = [HEADS, THREE_MAX_POSITIONS, headDim];
    const q = device.tensor(randomFloats(15 * HEADS * headDim, 31, -2, 2), [15, HEADS, headDim]);
    const k = randomFloats(HEADS * THREE_MAX_POSITIONS * headDim, 32, -2, 2);
    const v = randomFloats(HEADS * THREE_MAX_POSITIONS * headDim, 33);
    const run = async (kData: Float32Array, vData: Float32Array) => {
      const packing = packSequences(device, THREE);
      const result = attentionWithProbs(
        q,
        device.tensor(kData, cacheShape),
        device.tensor(vData, cacheShape),
        { packing },
      );
      packing.dispose();
      return { output: await result.output.read(), probs: await result.probs.read() };
    };
    const clean = await run(k, v);
    const [kPoison, vPoison] = [k.slice(), v.slice()];
    for (const [start, count] of [
      [40, 31], // sequence B
      [17, 23],
      [71, 4],
      [87, 9],
    ] as const) {
      fillCacheRows(kPoison, sizes, start, count, 1e4);
      fillCacheRows(vPoison, sizes, start, count, 1e6);
    }
    const poisoned = await run(kPoison, vPoison);
    const row = HEADS * headDim;
    for (const [first, length] of [
      [0, 5], // A
      [6, 9], // C
    ] as const) {
      expect(rowsOf(poisoned.output, row, first, length)).toEqual(
        rowsOf(clean.output, row, first, length),
      );
      for (let h = 0; h < HEADS; h++) {
        expect(rowsOf(poisoned.probs, 31, h * 15 + first, length)).toEqual(
          rowsOf(clean.probs, 31, h * 15 + first, length),
        );
      }
    }
    expect(Math.min(...rowsOf(poisoned.output, row, 5, 1))).toBeGreaterThan(9e5); // B itself
  });

  it('a batch where no sequence advances (all lengths 0) gives empty results and no kernels', async () => {
    const packing = packSequences(device, [{ cacheStart: 0, position: 7, length: 0 }]);
    const cache = device.zeros([HEADS, 8, 8]);
    const before = device.stats.dispatches;
    const q = splitQkvRotary(device.zeros([0, HEADS * 24]), cache, cache, {
      heads: HEADS,
      rotaryDims: 8,
      packing,
    });
    const { output, probs } = attentionWithProbs(q, cache, cache, { packing });
    expect(device.stats.dispatches - before).toBe(0);
    expect(output.shape).toEqual([0, HEADS * 8]);
    expect(probs.shape).toEqual([HEADS, 0, 0]);
    packing.dispose();
  });
});

describe('packed attention over long contexts (batched decoding, flash-decoding split)', () => {
  /** q and caches for one decode step of `segments`; the caches' rows past each range hold `fill`. */
  function decodeInputs(headDim: number, seed: number) {
    const sizes = { heads: HEADS, maxPositions: DECODE_MAX_POSITIONS, headDim };
    const q = randomFloats(DECODE.length * HEADS * headDim, seed, -2, 2);
    const k = randomFloats(HEADS * DECODE_MAX_POSITIONS * headDim, seed + 1, -2, 2);
    const v = randomFloats(HEADS * DECODE_MAX_POSITIONS * headDim, seed + 2);
    return { sizes, q, k, v };
  }

  async function packedOutput(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    headDim: number,
    splitKeys: boolean | undefined,
    expectedDispatches: number,
  ): Promise<Float32Array> {
    const cacheShape = [HEADS, DECODE_MAX_POSITIONS, headDim];
    const packing = packSequences(device, DECODE);
    const kT = device.tensor(k, cacheShape);
    const vT = device.tensor(v, cacheShape);
    const before = device.stats.dispatches;
    const y = attention(device.tensor(q, [DECODE.length, HEADS, headDim]), kT, vT, {
      packing,
      splitKeys,
      lanes: false,
    });
    expect(device.stats.dispatches - before).toBe(expectedDispatches);
    packing.dispose();
    return y.read();
  }

  for (const [headDim, splitKeys, dispatches] of [
    [64, undefined, 2], // 4 sequences × 2 heads over ≤ 1030 keys: split by default
    [64, true, 2],
    [64, false, 1],
    [18, true, 2], // scalar key loads
    [18, false, 1],
  ] as const) {
    it(`4 sequences of 1 token over 301, 701, 258, 1030 keys, headDim ${headDim}, splitKeys ${splitKeys}: reference and alone`, async () => {
      const { sizes, q, k, v } = decodeInputs(headDim, headDim);
      const actual = await packedOutput(q, k, v, headDim, splitKeys, dispatches);
      const expected = attentionReference(q, k, v, { tokens: 4, ...sizes, segments: DECODE });
      expectClose(actual, expected.output, 1e-5, 1e-6);
      // Each sequence alone, on its own rows, split the same way: the same bits.
      for (const [s, { cacheStart, position }] of DECODE.entries()) {
        const rows = position + 1;
        const alone = attention(
          device.tensor(rowsOf(q, HEADS * headDim, s, 1), [1, HEADS, headDim]),
          device.tensor(cacheRows(k, sizes, cacheStart, rows), [HEADS, rows, headDim]),
          device.tensor(cacheRows(v, sizes, cacheStart, rows), [HEADS, rows, headDim]),
          { positionOffset: position, splitKeys: splitKeys ?? true, lanes: false },
        );
        const row = rowsOf(actual, HEADS * headDim, s, 1);
        expect(row).toEqual(await alone.read());
      }
    });
  }

  for (const splitKeys of [true, false]) {
    it(`sequences never attend to each other: poisoning other rows with keys of 1e4 and values of 1e6 changes nothing (splitKeys ${splitKeys})`, async () => {
      const headDim = 64;
      const { sizes, q, k, v } = decodeInputs(headDim, 40);
      const clean = await packedOutput(q, k, v, headDim, splitKeys, splitKeys ? 2 : 1);
      // Poison sequence 1's whole range, and every row no sequence owns.
      const [kPoison, vPoison] = [k.slice(), v.slice()];
      const poison = (start: number, count: number) => {
        fillCacheRows(kPoison, sizes, start, count, 1e4);
        fillCacheRows(vPoison, sizes, start, count, 1e6);
      };
      poison(320, 701); // sequence 1
      poison(301, 19);
      poison(1021, 19);
      poison(1298, 2);
      poison(2330, 6);
      const poisoned = await packedOutput(
        q,
        kPoison,
        vPoison,
        headDim,
        splitKeys,
        splitKeys ? 2 : 1,
      );
      const row = HEADS * headDim;
      for (const s of [0, 2, 3]) {
        expect(rowsOf(poisoned, row, s, 1)).toEqual(rowsOf(clean, row, s, 1));
      }
      // The poison is strong: sequence 1, which owns those rows, now outputs ~1e6.
      expect(Math.min(...rowsOf(poisoned, row, 1, 1))).toBeGreaterThan(9e5);
    });
  }

  it('splits batched decoding of 16 sequences × 8 heads over 1000+ keys by default', async () => {
    const [heads, headDim] = [8, 16];
    const segments = Array.from({ length: 16 }, (_, s) => ({
      cacheStart: s * 1100,
      position: 1000 + 5 * s,
      length: 1,
    }));
    const maxPositions = 16 * 1100;
    const cacheShape = [heads, maxPositions, headDim];
    const q = randomFloats(16 * heads * headDim, 51, -2, 2);
    const k = randomFloats(heads * maxPositions * headDim, 52, -2, 2);
    const v = randomFloats(heads * maxPositions * headDim, 53);
    const [kT, vT] = [device.tensor(k, cacheShape), device.tensor(v, cacheShape)];
    const decode = packSequences(device, segments);
    const before = device.stats.dispatches;
    const y = attention(device.tensor(q, [16, heads, headDim]), kT, vT, {
      packing: decode,
      lanes: false,
    });
    expect(device.stats.dispatches - before).toBe(2);
    decode.dispose();
    const expected = attentionReference(q, k, v, {
      tokens: 16,
      heads,
      headDim,
      maxPositions,
      segments,
    });
    expectClose(await y.read(), expected.output, 1e-5, 1e-6);
  });

  it('splits a packed prefill and decode by default: rows over more than one key block', async () => {
    // 64 heads of 4 dims; sequence A decodes over 257 keys (2 blocks), B is a prompt from scratch.
    const [heads, headDim, maxPositions] = [64, 4, 400];
    const cacheShape = [heads, maxPositions, headDim];
    const k = randomFloats(heads * maxPositions * headDim, 61, -2, 2);
    const v = randomFloats(heads * maxPositions * headDim, 62);
    const [kT, vT] = [device.tensor(k, cacheShape), device.tensor(v, cacheShape)];
    const segments = [
      { cacheStart: 0, position: 256, length: 1 },
      { cacheStart: 260, position: 0, length: 128 },
    ];
    const tokens = 129;
    const q = randomFloats(tokens * heads * headDim, 63, -2, 2);
    const packing = packSequences(device, segments);
    const before = device.stats.dispatches;
    const y = attention(device.tensor(q, [tokens, heads, headDim]), kT, vT, {
      packing,
      lanes: false,
    });
    expect(device.stats.dispatches - before).toBe(2);
    packing.dispose();
    const expected = attentionReference(q, k, v, {
      tokens,
      heads,
      headDim,
      maxPositions,
      segments,
    });
    expectClose(await y.read(), expected.output, 1e-5, 1e-6);
  });

  it('stops splitting by default where the partial results would pass 64 MiB or the binding limit', () => {
    const MiB = 2 ** 20;
    // A 2048-token prompt of 16 heads of 64 dims: 32768 rows × 8 blocks × 66 f32 = 66 MiB.
    expect(splitByDefault(2048 * 16, 8, 64, 2 ** 31)).toBe(false);
    // 1024 tokens × 8 heads × 4 blocks × 66 f32 = 8.25 MiB: split.
    expect(splitByDefault(1024 * 8, 4, 64, 2 ** 31)).toBe(true);
    expect(splitByDefault(1024 * 8, 4, 64, 8 * MiB)).toBe(false);
    // One block per row: nothing to split.
    expect(splitByDefault(16, 1, 64, 2 ** 31)).toBe(false);
    // Decoding 16 sequences × 8 heads over 1030 keys (5 blocks).
    expect(splitByDefault(128, 5, 64, 128 * MiB)).toBe(true);
  });
});

describe('packed attention-lanes (CPU adapters; forced here whatever the adapter)', () => {
  // Segments whose blocks of 8·R rows straddle sequences: 5, 1, 29, 40 rows (R = 2: 75 rows / 4
  // sequences = 19 per sequence) after 12, 30, 3, 0 cached, and one that does not advance.
  const MIXED: PackedSegment[] = [
    { cacheStart: 0, position: 12, length: 5 },
    { cacheStart: 40, position: 30, length: 1 },
    { cacheStart: 75, position: 3, length: 29 },
    { cacheStart: 120, position: 0, length: 40 },
    { cacheStart: 170, position: 7, length: 0 },
  ];
  // Two long prompts over 256 keys, a block of 16 rows straddling them at row 300 (R = 2).
  const LONG: PackedSegment[] = [
    { cacheStart: 0, position: 0, length: 300 },
    { cacheStart: 310, position: 2, length: 270 },
  ];
  const cases = [
    ['mixed', MIXED, 180, 3, 64],
    ['mixed', MIXED, 180, 8, 80],
    ['long prompts', LONG, 600, 2, 64],
    ['batched decoding', DECODE, DECODE_MAX_POSITIONS, 12, 64],
  ] as const;
  for (const [name, segments, maxPositions, heads, headDim] of cases) {
    it(`${name}: ${heads} heads of ${headDim}: reference, workgroup kernel, and each sequence alone bit for bit`, async () => {
      const sizes = { heads, maxPositions, headDim };
      const cacheShape = [heads, maxPositions, headDim];
      const packing = packSequences(device, segments);
      const tokens = packing.tokens;
      const q = randomFloats(tokens * heads * headDim, heads + headDim, -2, 2);
      const k = randomFloats(heads * maxPositions * headDim, headDim + 1, -2, 2);
      const v = randomFloats(heads * maxPositions * headDim, headDim + 2);
      const qT = device.tensor(q, [tokens, heads, headDim]);
      const [kT, vT] = [device.tensor(k, cacheShape), device.tensor(v, cacheShape)];
      const y = attention(qT, kT, vT, { packing, lanes: true });
      const old = attention(qT, kT, vT, { packing, lanes: false, splitKeys: false });
      packing.dispose();
      const actual = await y.read();
      const expected = attentionReference(q, k, v, { tokens, ...sizes, segments });
      expectClose(actual, expected.output, 1e-5, 1e-6);
      expectClose(actual, await old.read(), 1e-5, 1e-6);
      const first = firstRows(segments);
      const width = heads * headDim;
      for (const [s, { cacheStart, position, length }] of segments.entries()) {
        if (length === 0) continue;
        const rows = position + length;
        const alone = attention(
          device.tensor(rowsOf(q, width, first[s]!, length), [length, heads, headDim]),
          device.tensor(cacheRows(k, sizes, cacheStart, rows), [heads, rows, headDim]),
          device.tensor(cacheRows(v, sizes, cacheStart, rows), [heads, rows, headDim]),
          { positionOffset: position, lanes: true },
        );
        expect(rowsOf(actual, width, first[s]!, length)).toEqual(await alone.read());
      }
    });
  }

  it('sequences never attend to each other: poisoned rows of other sequences and gaps change nothing', async () => {
    const [heads, headDim, maxPositions] = [2, 64, 180];
    const sizes = { heads, maxPositions, headDim };
    const cacheShape = [heads, maxPositions, headDim];
    const packing = packSequences(device, MIXED);
    const tokens = packing.tokens;
    const q = device.tensor(randomFloats(tokens * heads * headDim, 81, -2, 2), [
      tokens,
      heads,
      headDim,
    ]);
    const k = randomFloats(heads * maxPositions * headDim, 82, -2, 2);
    const v = randomFloats(heads * maxPositions * headDim, 83);
    const run = async (kData: Float32Array, vData: Float32Array) =>
      attention(q, device.tensor(kData, cacheShape), device.tensor(vData, cacheShape), {
        packing,
        lanes: true,
      }).read();
    const clean = await run(k, v);
    // Poison sequence 2 (cache rows 75…106, packed rows 6…34) and every row no sequence owns.
    const [kPoison, vPoison] = [k.slice(), v.slice()];
    for (const [start, count] of [
      [75, 32],
      [17, 23],
      [71, 4],
      [107, 13],
      [160, 20],
    ] as const) {
      fillCacheRows(kPoison, sizes, start, count, 1e4);
      fillCacheRows(vPoison, sizes, start, count, 1e6);
    }
    const poisoned = await run(kPoison, vPoison);
    packing.dispose();
    const width = heads * headDim;
    for (const [first, count] of [
      [0, 6],
      [35, 40],
    ] as const) {
      expect(rowsOf(poisoned, width, first, count)).toEqual(rowsOf(clean, width, first, count));
    }
    expect(Math.min(...rowsOf(poisoned, width, 6, 29))).toBeGreaterThan(9e5);
  });
});

describe('packing errors (a wrong packing must fail loudly: WebGPU drops out-of-range writes)', () => {
  let packing: SequencePacking;
  let cache: Tensor<'f32'>;
  beforeAll(() => {
    packing = packSequences(device, THREE); // 15 rows, caches of ≥ 87 rows
    cache = device.zeros([HEADS, THREE_MAX_POSITIONS, 8]);
  });

  const ops = (rows: number, c: () => Tensor<'f32'>, options: object) => {
    const width = HEADS * 3 * 8;
    return {
      splitQkvRotary: () =>
        splitQkvRotary(device.zeros([rows, width]), c(), c(), {
          heads: HEADS,
          rotaryDims: 8,
          ...options,
        }),
      rotary: () => rotary(device.zeros([rows, HEADS, 8]), { rotaryDims: 8, ...options }),
      writeKvCache: () => {
        const k = device.zeros([rows, HEADS, 8]);
        writeKvCache(k, k, c(), c(), options);
      },
      attention: () => attention(device.zeros([rows, HEADS, 8]), c(), c(), options),
      attentionWithProbs: () =>
        attentionWithProbs(device.zeros([rows, HEADS, 8]), c(), c(), options),
    };
  };

  it('rejects 14 rows for a packing of 15 tokens, in each of the five ops', () => {
    for (const [op, call] of Object.entries(ops(14, () => cache, { packing }))) {
      expect(call, op).toThrow(ShapeError);
      expect(call, op).toThrow(new RegExp(`${op}: 14 rows, but .* places 15`));
    }
  });

  it('rejects positionOffset together with packing, in each of the five ops', () => {
    for (const [op, call] of Object.entries(ops(15, () => cache, { packing, positionOffset: 0 }))) {
      expect(call, op).toThrow(new RegExp(`${op}: got both positionOffset \\(0\\) and packing`));
    }
  });

  it('rejects caches of 86 positions when the packing needs 87 (cache ops and attention)', () => {
    const small = () => device.zeros([HEADS, 86, 8]);
    const { rotary: _rotary, ...cacheOps } = ops(15, small, { packing });
    for (const [op, call] of Object.entries(cacheOps)) {
      expect(call, op).toThrow(
        new RegExp(`${op}: the packing needs caches of at least 87 positions .* hold 86`),
      );
    }
  });

  it('rejects a disposed packing', () => {
    const gone = packSequences(device, THREE);
    gone.dispose();
    for (const [op, call] of Object.entries(ops(15, () => cache, { packing: gone }))) {
      expect(call, op).toThrow(TensorDisposedError);
    }
  });
});
