import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AttentionPartsOptions,
  applyPattern,
  attention,
  attentionScores,
  attentionWithProbs,
  causalSoftmax,
  type Device,
  type PackedSegment,
  packSequences,
  ShapeError,
} from '../src/index.js';
import {
  applyPatternReference,
  attentionReference,
  attentionScoresReference,
  causalSoftmaxReference,
} from '../src/reference/index.js';
import { testDevice } from './gpu.js';
import { expectClose, randomFloats } from './numbers.js';

// Three sequences of different lengths and cached prefixes, with unused cache rows between them:
// A adds 5 tokens after 12 cached (rows 0…16), B 1 after 30 (rows 40…70), C 9 after 3 (rows 75…86).
const THREE: PackedSegment[] = [
  { cacheStart: 0, position: 12, length: 5 },
  { cacheStart: 40, position: 30, length: 1 },
  { cacheStart: 75, position: 3, length: 9 },
];

let device: Device;
beforeAll(async () => {
  device = await testDevice();
});
afterAll(() => device?.destroy());

interface Case {
  tokens: number;
  heads: number;
  headDim: number;
  maxPositions: number;
  positionOffset?: number;
  segments?: PackedSegment[];
}

/** Random q and caches of a case, on the CPU and the GPU, and the options of the ops. */
function setUp(c: Case, seed: number) {
  const { tokens, heads, headDim, maxPositions } = c;
  const cacheShape = [heads, maxPositions, headDim];
  // Scores of a few units, so the softmax is neither flat nor one-hot.
  const q = randomFloats(tokens * heads * headDim, seed, -2, 2);
  const k = randomFloats(heads * maxPositions * headDim, seed + 1, -2, 2);
  const v = randomFloats(heads * maxPositions * headDim, seed + 2);
  const packing = c.segments ? packSequences(device, c.segments) : undefined;
  const options: AttentionPartsOptions = packing
    ? { packing }
    : { positionOffset: c.positionOffset ?? 0 };
  return {
    q,
    k,
    v,
    qT: device.tensor(q, [tokens, heads, headDim]),
    kT: device.tensor(k, cacheShape),
    vT: device.tensor(v, cacheShape),
    options,
    sizes: {
      tokens,
      heads,
      headDim,
      maxPositions,
      ...(c.segments ? { segments: c.segments } : { positionOffset: c.positionOffset ?? 0 }),
    },
  };
}

/** expectClose for scores: −Infinity exactly where expected, within rtol/atol elsewhere. */
function expectScoresClose(
  actual: Float32Array,
  expected: Float32Array,
  rtol: number,
  atol: number,
) {
  const masked = (x: Float32Array) => Array.from(x, (value) => value === -Infinity);
  expect(masked(actual)).toEqual(masked(expected));
  const finite = (x: Float32Array) => x.map((value) => (value === -Infinity ? 0 : value));
  expectClose(finite(actual), finite(expected), rtol, atol);
}

/** Row t's position and the number of keys S of a case. */
function rowsOf(c: Case): { position: number[]; keys: number } {
  const position = c.segments
    ? c.segments.flatMap((s) => Array.from({ length: s.length }, (_, i) => s.position + i))
    : Array.from({ length: c.tokens }, (_, t) => (c.positionOffset ?? 0) + t);
  return { position, keys: Math.max(0, ...position.map((p) => p + 1)) };
}

describe('attentionScores, causalSoftmax, applyPattern (attention in three hookable parts)', () => {
  it('writes −Infinity (bits 0xff800000) at masked keys, scaled dot products elsewhere', async () => {
    // One head, D = 4 (scale 1/2): two queries from position 0.
    const q = device.tensor(new Float32Array([1, 1, 1, 1, 2, 0, 0, 0]), [2, 1, 4]);
    const k = device.tensor(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9]), [1, 3, 4]);
    const scores = await attentionScores(q, k).read();
    expect(Array.from(scores)).toEqual([5, -Infinity, 1, 5]);
    expect(new Uint32Array(scores.buffer, scores.byteOffset, 4)[1]).toBe(0xff800000);
    expect(
      Array.from(
        attentionScoresReference([1, 1, 1, 1, 2, 0, 0, 0], await k.read(), {
          tokens: 2,
          heads: 1,
          headDim: 4,
          maxPositions: 3,
        }),
      ),
    ).toEqual([5, -Infinity, 1, 5]);
  });

  const cases: [string, Case][] = [
    ['1 query at position 0, headDim 64', { tokens: 1, heads: 2, headDim: 64, maxPositions: 8 }],
    [
      '7 queries from position 0, headDim 80',
      { tokens: 7, heads: 3, headDim: 80, maxPositions: 8 },
    ],
    [
      '7 queries from position 30, headDim 18 (not a multiple of 4)',
      { tokens: 7, heads: 2, headDim: 18, maxPositions: 40, positionOffset: 30 },
    ],
    [
      '129 queries from position 31, headDim 64 (more keys than a workgroup)',
      { tokens: 129, heads: 2, headDim: 64, maxPositions: 170, positionOffset: 31 },
    ],
    [
      '5 queries from position 3, headDim 256',
      { tokens: 5, heads: 2, headDim: 256, maxPositions: 10, positionOffset: 3 },
    ],
    [
      '1 query over 3000 keys (decoding a long context), headDim 64',
      { tokens: 1, heads: 2, headDim: 64, maxPositions: 3000, positionOffset: 2999 },
    ],
    [
      'a packing of 5, 1 and 9 tokens at cache rows 0, 40 and 75, headDim 64',
      { tokens: 15, heads: 2, headDim: 64, maxPositions: 96, segments: THREE },
    ],
    [
      'a packing with an idle sequence and one of 600 keys, headDim 80',
      {
        tokens: 6,
        heads: 2,
        headDim: 80,
        maxPositions: 1000,
        segments: [
          { cacheStart: 700, position: 2, length: 4 },
          { cacheStart: 0, position: 5, length: 0 },
          { cacheStart: 10, position: 598, length: 2 },
        ],
      },
    ],
  ];

  for (const [name, c] of cases) {
    it(`match the CPU references and compose to attention: ${name}`, async () => {
      const { q, k, v, qT, kT, vT, options, sizes } = setUp(c, c.tokens + c.headDim);
      const { keys } = rowsOf(c);
      const scores = attentionScores(qT, kT, options);
      const pattern = causalSoftmax(scores, options);
      const output = applyPattern(pattern, vT, options);
      expect(scores.shape).toEqual([c.heads, c.tokens, keys]);
      expect(pattern.shape).toEqual([c.heads, c.tokens, keys]);
      expect(output.shape).toEqual([c.tokens, c.heads * c.headDim]);
      const [scoresCpu, patternCpu, outputCpu] = [
        await scores.read(),
        await pattern.read(),
        await output.read(),
      ];
      // Each part against its reference, fed the GPU's own input.
      expectScoresClose(scoresCpu, attentionScoresReference(q, k, sizes), 1e-5, 1e-5);
      expectClose(patternCpu, causalSoftmaxReference(scoresCpu, sizes), 1e-5, 1e-7);
      expectClose(outputCpu, applyPatternReference(patternCpu, v, sizes), 1e-5, 1e-6);
      // The composition against the fused kernels and the attention reference.
      const expected = attentionReference(q, k, v, sizes);
      expectClose(outputCpu, expected.output, 1e-5, 1e-6);
      expectClose(patternCpu, expected.probs, 1e-5, 1e-7);
      expectClose(outputCpu, await attention(qT, kT, vT, options).read(), 1e-5, 1e-6);
      const withProbs = attentionWithProbs(qT, kT, vT, options);
      expectClose(patternCpu, await withProbs.probs.read(), 1e-5, 1e-7);
      expectClose(outputCpu, await withProbs.output.read(), 1e-5, 1e-6);
      options.packing?.dispose();
    });
  }

  it('apply a replaced pattern as given: uniform causal, and unnormalised weights', async () => {
    const c: Case = { tokens: 15, heads: 2, headDim: 18, maxPositions: 96, segments: THREE };
    const { v, qT, kT, vT, options, sizes } = setUp(c, 5);
    const { position, keys } = rowsOf(c);
    const cacheStart = THREE.flatMap((s) => Array<number>(s.length).fill(s.cacheStart));
    // Uniform over j ≤ p: the softmax of equal scores, and the same written directly.
    const uniform = new Float32Array(c.heads * c.tokens * keys);
    for (let h = 0; h < c.heads; h++) {
      for (let t = 0; t < c.tokens; t++) {
        const base = (h * c.tokens + t) * keys;
        uniform.fill(1 / (position[t]! + 1), base, base + position[t]! + 1);
      }
    }
    const softmaxOfZeros = causalSoftmax(device.zeros([c.heads, c.tokens, keys]), options);
    expectClose(await softmaxOfZeros.read(), uniform, 1e-6);
    const mean = new Float32Array(c.tokens * c.heads * c.headDim);
    for (let t = 0; t < c.tokens; t++) {
      for (let h = 0; h < c.heads; h++) {
        for (let d = 0; d < c.headDim; d++) {
          let sum = 0;
          for (let j = 0; j <= position[t]!; j++) {
            sum += v[(h * c.maxPositions + cacheStart[t]! + j) * c.headDim + d]!;
          }
          mean[(t * c.heads + h) * c.headDim + d] = sum / (position[t]! + 1);
        }
      }
    }
    const averaged = applyPattern(device.tensor(uniform, [c.heads, c.tokens, keys]), vT, options);
    expectClose(await averaged.read(), mean, 1e-5, 1e-6);
    // Weights 2 on key 0 and 3 on the row's own key (sum 5, not renormalised): 2·v_0 + 3·v_p.
    const weights = new Float32Array(c.heads * c.tokens * keys);
    const expected = new Float32Array(c.tokens * c.heads * c.headDim);
    for (let h = 0; h < c.heads; h++) {
      for (let t = 0; t < c.tokens; t++) {
        const p = position[t]!;
        const base = (h * c.tokens + t) * keys;
        weights[base] = 2;
        weights[base + p] = weights[base + p]! + 3; // 5 on key 0 when p = 0
        for (let d = 0; d < c.headDim; d++) {
          const row = (j: number) => (h * c.maxPositions + cacheStart[t]! + j) * c.headDim + d;
          expected[(t * c.heads + h) * c.headDim + d] = 2 * v[row(0)]! + 3 * v[row(p)]!;
        }
      }
    }
    const mixed = applyPattern(device.tensor(weights, [c.heads, c.tokens, keys]), vT, options);
    expectClose(await mixed.read(), expected, 1e-5, 1e-6);
    expectClose(await mixed.read(), applyPatternReference(weights, v, sizes), 1e-5, 1e-6);
    // The unhooked chain still matches attention on these inputs.
    const chain = applyPattern(
      causalSoftmax(attentionScores(qT, kT, options), options),
      vT,
      options,
    );
    expectClose(await chain.read(), await attention(qT, kT, vT, options).read(), 1e-5, 1e-6);
    options.packing?.dispose();
  });

  for (const [name, c] of [
    [
      'one sequence from position 9',
      { tokens: 6, heads: 2, headDim: 64, maxPositions: 16, positionOffset: 9 },
    ],
    [
      'a packing of three sequences',
      { tokens: 15, heads: 2, headDim: 64, maxPositions: 96, segments: THREE },
    ],
  ] as [string, Case][]) {
    it(`never read masked entries: garbage in scores or pattern past p changes nothing (${name})`, async () => {
      const { qT, kT, vT, options } = setUp(c, 17);
      const { position, keys } = rowsOf(c);
      const shape = [c.heads, c.tokens, keys];
      const scores = await attentionScores(qT, kT, options).read();
      const pattern = causalSoftmax(device.tensor(scores, shape), options);
      const patternCpu = await pattern.read();
      const output = await applyPattern(pattern, vT, options).read();
      // Masked pattern entries are exactly 0.
      for (let h = 0; h < c.heads; h++) {
        for (let t = 0; t < c.tokens; t++) {
          const base = (h * c.tokens + t) * keys;
          for (let j = position[t]! + 1; j < keys; j++) expect(patternCpu[base + j]).toBe(0);
          for (let j = position[t]! + 1; j < keys; j++) expect(scores[base + j]).toBe(-Infinity);
        }
      }
      for (const garbage of [1e30, Number.NaN, Number.POSITIVE_INFINITY, -1e30]) {
        const dirty = (data: Float32Array) => {
          const copy = Float32Array.from(data);
          for (let h = 0; h < c.heads; h++) {
            for (let t = 0; t < c.tokens; t++) {
              const base = (h * c.tokens + t) * keys;
              copy.fill(garbage, base + position[t]! + 1, base + keys);
            }
          }
          return copy;
        };
        const dirtyScores = causalSoftmax(device.tensor(dirty(scores), shape), options);
        expect(await dirtyScores.read()).toEqual(patternCpu);
        const dirtyPattern = applyPattern(device.tensor(dirty(patternCpu), shape), vT, options);
        expect(await dirtyPattern.read()).toEqual(output);
      }
      options.packing?.dispose();
    });
  }

  it('give −Infinity scores weight 0, and NaN rows where no weight is defined', async () => {
    // One head, 3 queries from position 0 (S = 3): row 1 masks key 0 with −∞ (all weight on key
    // 1), row 2 has only −∞ in range, and a second head has a NaN in row 2.
    const inf = Number.POSITIVE_INFINITY;
    const scores = new Float32Array([
      ...[0.5, 7, 7],
      ...[-inf, 3, 7],
      ...[-inf, -inf, -inf],
      ...[1, 7, 7],
      ...[2, inf, 7],
      ...[0, Number.NaN, 1],
    ]);
    const pattern = await causalSoftmax(device.tensor(scores, [2, 3, 3])).read();
    const expected = causalSoftmaxReference(scores, { tokens: 3, heads: 2 });
    const nan = Number.NaN;
    const rows = [...[1, 0, 0], ...[0, 1, 0], ...[nan, nan, nan]];
    expect(Array.from(expected)).toEqual([
      ...rows,
      ...[1, 0, 0],
      ...[nan, nan, 0],
      ...[nan, nan, nan],
    ]);
    expect(Array.from(pattern)).toEqual(Array.from(expected));
    // A NaN row of the pattern makes that row of the output NaN, and only that row.
    const vCache = device.tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3, 1]);
    const out = await applyPattern(device.tensor(pattern, [2, 3, 3]), vCache).read();
    expect(Array.from(out)).toEqual([1, 4, 2, nan, nan, nan]);
  });

  it('reject wrong shapes, mismatched heads and positions past the cache', () => {
    const q = device.zeros([3, 2, 8]);
    const cache = device.zeros([2, 4, 8]);
    expect(() => attentionScores(device.zeros([3, 16]), cache)).toThrow(
      /q must be \[tokens, heads, headDim ≤ 256\]/,
    );
    expect(() => attentionScores(device.zeros([3, 2, 300]), device.zeros([2, 4, 300]))).toThrow(
      ShapeError,
    );
    expect(() => attentionScores(q, device.zeros([3, 4, 8]))).toThrow(
      /kCache must be \[heads=2, maxPositions, headDim=8\]/,
    );
    expect(() => attentionScores(q, cache, { positionOffset: 2 })).toThrow(
      /positions up to 4 overrun a cache of 4 positions/,
    );
    expect(() => attentionScores(q, cache, { positionOffset: -1 })).toThrow(/non-negative integer/);
    // Scores and patterns: [heads, tokens, positionOffset + tokens].
    expect(() => causalSoftmax(device.zeros([2, 3, 4]))).toThrow(
      /scores rows must hold 3 keys \(positionOffset \+ tokens = 0 \+ 3\)/,
    );
    expect(() => causalSoftmax(device.zeros([2, 3, 4]), { positionOffset: 2 })).toThrow(
      /hold 5 keys/,
    );
    expect(() => causalSoftmax(device.zeros([6, 3]))).toThrow(
      /scores must be \[heads, tokens, keys\]/,
    );
    expect(() => causalSoftmax(device.zeros([2, 3, 3], 'u32') as never)).toThrow(/must be f32/);
    expect(() => applyPattern(device.zeros([2, 3, 4]), cache)).toThrow(
      /pattern rows must hold 3 keys/,
    );
    expect(() => applyPattern(device.zeros([3, 3, 3]), cache)).toThrow(
      /vCache must be \[heads=3, maxPositions, headDim=8\]/,
    );
    expect(() => applyPattern(device.zeros([2, 3, 5]), cache, { positionOffset: 2 })).toThrow(
      /positions up to 4 overrun a cache of 4 positions/,
    );
    expect(() => applyPattern(device.zeros([2, 3]), cache)).toThrow(/pattern must be \[heads/);
  });

  it('check a packing: its rows, its cache rows, and no positionOffset with it', () => {
    const packing = packSequences(device, THREE); // 15 rows, 31 keys, 87 cache rows
    const cache = device.zeros([2, 96, 8]);
    expect(() => attentionScores(device.zeros([14, 2, 8]), cache, { packing })).toThrow(
      /14 rows, but SequencePacking\(3 segments, 15 tokens\) places 15/,
    );
    expect(() =>
      attentionScores(device.zeros([15, 2, 8]), device.zeros([2, 80, 8]), { packing }),
    ).toThrow(/caches of at least 87 positions/);
    expect(() => causalSoftmax(device.zeros([2, 15, 30]), { packing })).toThrow(
      /hold 31 keys \(packing.maxKeys = 31\)/,
    );
    expect(() => causalSoftmax(device.zeros([2, 15, 31]), { packing, positionOffset: 0 })).toThrow(
      /got both positionOffset \(0\) and packing/,
    );
    expect(() =>
      applyPattern(device.zeros([2, 15, 31]), device.zeros([2, 80, 8]), { packing }),
    ).toThrow(/caches of at least 87 positions/);
    expect(applyPattern(device.zeros([2, 15, 31]), cache, { packing }).shape).toEqual([15, 16]);
    packing.dispose();
  });

  it('handle zero tokens', async () => {
    const scores = attentionScores(device.zeros([0, 2, 8]), device.zeros([2, 4, 8]), {
      positionOffset: 3,
    });
    expect(scores.shape).toEqual([2, 0, 3]);
    expect(causalSoftmax(scores, { positionOffset: 3 }).shape).toEqual([2, 0, 3]);
    const out = applyPattern(scores, device.zeros([2, 4, 8]), { positionOffset: 3 });
    expect(out.shape).toEqual([0, 16]);
    expect((await out.read()).length).toBe(0);
  });
});
