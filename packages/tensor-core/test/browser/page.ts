// Bundled by esbuild for the browser test: runs every op through navigator.gpu on seeded inputs,
// compares each result with its CPU reference here in the page, and hands the errors back to
// Node (browser.test.ts), which asserts them check by check.
import {
  type AttentionPartsOptions,
  add,
  applyPattern,
  argmax,
  attention,
  attentionScores,
  attentionWithProbs,
  causalSoftmax,
  copyCacheRows,
  createDevice,
  type Device,
  dequantize,
  editSelection,
  embedding,
  f16BitsToF32Array,
  f32ArrayToF16Bits,
  gelu,
  headOutputs,
  layerNorm,
  layerNormScale,
  matmul,
  type PackedSegment,
  packSequences,
  type QuantFormat,
  QuantizedTensor,
  quantize,
  rotary,
  splitQkvRotary,
  sumHeads,
  type Tensor,
  type TensorEdit,
  topk,
} from '../../src/index.js';
import {
  addReference,
  applyPatternReference,
  argmaxReference,
  attentionReference,
  attentionScoresReference,
  causalSoftmaxReference,
  copyCacheRowsReference,
  type EditSelectionReferenceEdit,
  editSelectionReference,
  embeddingReference,
  geluReference,
  geluTanhReference,
  headOutputsReference,
  layerNormReference,
  layerNormScaleReference,
  matmulReference,
  quantizeReference,
  rotaryReference,
  splitQkvRotaryReference,
  sumHeadsReference,
  topkReference,
} from '../../src/reference/index.js';
import { randomFloats } from '../random.js';
import { BROWSER_CHECKS, type CheckName, type CheckResult, compare } from './checks.js';

/** What the page reports: the environment, then one result per check. */
export interface PageReport {
  environment: string;
  shaderF16: boolean;
  adapter: string;
  checks: Partial<Record<CheckName, CheckResult>>;
}

type Pair = [actual: ArrayLike<number>, expected: ArrayLike<number>];

/** f16 inputs must take the packed-u32 path: SwiftShader has no shader-f16. */
function assertPacked(device: Device): void {
  if (device.features.shaderF16) {
    throw new Error('this adapter has shader-f16, so the packed f16 path is not under test');
  }
}

function concat(...parts: ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(Array.from(part), at);
    at += part.length;
  }
  return out;
}

/** The f16 bits of seeded floats and the exact f32 values they stand for. */
function halves(n: number, seed: number, lo = -1, hi = 1): [Uint16Array, Float32Array] {
  const bits = f32ArrayToF16Bits(randomFloats(n, seed, lo, hi));
  return [bits, f16BitsToF32Array(bits)];
}

async function runChecks(): Promise<PageReport> {
  const device = await createDevice();
  // A 4 KiB binding limit splits small weights and tables into row chunks.
  const chunked = await createDevice({ maxBindingBytes: 4096 });
  const checks: Partial<Record<CheckName, CheckResult>> = {};

  /** Runs one op (which may feed several checks); a throw fails each of its checks. */
  async function run(body: () => Promise<Partial<Record<CheckName, Pair>>>, names: CheckName[]) {
    try {
      const pairs = await body();
      for (const name of names) {
        const pair = pairs[name];
        checks[name] = pair
          ? compare(pair[0], pair[1], BROWSER_CHECKS[name])
          : { elements: 0, maxAbsError: 0, maxExcess: 0, worst: null, error: 'not computed' };
      }
    } catch (error) {
      for (const name of names) {
        checks[name] = {
          elements: 0,
          maxAbsError: 0,
          maxExcess: 0,
          worst: null,
          error: String(error),
        };
      }
    }
  }

  const t = <A extends Float32Array | Uint16Array | Uint32Array>(
    data: A,
    shape?: number[],
    on: Device = device,
  ) => on.tensor(data, shape);

  await run(async () => {
    const a = randomFloats(4099, 1, -100, 100);
    const b = randomFloats(4099, 2, -100, 100);
    return { add: [await add(t(a), t(b)).read(), addReference(a, b)] };
  }, ['add']);

  await run(async () => {
    const x = randomFloats(4099, 3, -8, 8);
    return {
      gelu: [await gelu(t(x)).read(), geluReference(x)],
      'gelu-tanh': [await gelu(t(x), { approximate: 'tanh' }).read(), geluTanhReference(x)],
    };
  }, ['gelu', 'gelu-tanh']);

  /** y = x·Wᵀ + b on the GPU and the CPU, W and b f32 or (packed) f16. */
  async function linear(m: number, n: number, k: number, dtype: 'f32' | 'f16', seed: number) {
    const x = randomFloats(m * k, seed);
    let weight: Tensor<'f32' | 'f16'>;
    let bias: Tensor<'f32' | 'f16'>;
    let w: Float32Array;
    let b: Float32Array;
    if (dtype === 'f16') {
      assertPacked(device);
      const [wBits, wValues] = halves(n * k, seed + 1);
      const [bBits, bValues] = halves(n, seed + 2);
      [weight, bias, w, b] = [t(wBits, [n, k]), t(bBits), wValues, bValues];
    } else {
      w = randomFloats(n * k, seed + 1);
      b = randomFloats(n, seed + 2);
      [weight, bias] = [t(w, [n, k]), t(b)];
    }
    const y = await matmul(t(x, [m, k]), weight, bias).read();
    return [y, matmulReference(x, w, m, n, k, b)] as Pair;
  }
  await run(
    async () => ({ 'gemv-scalar-f32': await linear(1, 131, 200, 'f32', 10) }),
    ['gemv-scalar-f32'],
  );
  await run(async () => ({ 'gemv-f32': await linear(1, 333, 520, 'f32', 20) }), ['gemv-f32']);
  await run(async () => ({ 'gemv-f16': await linear(1, 333, 520, 'f16', 30) }), ['gemv-f16']);
  await run(
    async () => ({ 'gemv-scalar-f16': await linear(1, 19, 37, 'f16', 40) }),
    ['gemv-scalar-f16'],
  );
  await run(async () => ({ 'gemm-f32': await linear(70, 130, 96, 'f32', 50) }), ['gemm-f32']);
  await run(async () => ({ 'gemm-f16': await linear(33, 70, 129, 'f16', 60) }), ['gemm-f16']);

  await run(async () => {
    assertPacked(device);
    const [m, n, k] = [1, 37, 64];
    const x = randomFloats(m * k, 70, -2, 2);
    const [wBits, w] = halves(n * k, 71);
    const b = randomFloats(n, 72);
    const r = randomFloats(m * n, 73);
    const y = matmul(t(x, [m, k]), t(wBits, [n, k]), t(b), {
      activation: 'gelu',
      residual: t(r, [m, n]),
    });
    const expected = addReference(geluReference(matmulReference(x, w, m, n, k, b)), r);
    return { 'epilogue-gemv': [await y.read(), expected] };
  }, ['epilogue-gemv']);

  await run(async () => {
    const [m, n, k] = [9, 70, 40];
    const x = randomFloats(m * k, 80, -2, 2);
    const w = randomFloats(n * k, 81);
    const b = randomFloats(n, 82);
    const r = randomFloats(m * n, 83);
    const y = matmul(t(x, [m, k]), t(w, [n, k]), t(b), {
      activation: 'gelu-tanh',
      residual: t(r, [m, n]),
    });
    const expected = addReference(geluTanhReference(matmulReference(x, w, m, n, k, b)), r);
    return { 'epilogue-gemm': [await y.read(), expected] };
  }, ['epilogue-gemm']);

  /** matmul with bias and residual whose weight [150, 40] is stored in at least 3 row chunks. */
  async function chunkedLinear(m: number, dtype: 'f32' | 'f16'): Promise<Pair> {
    const [n, k] = [150, 40];
    const x = randomFloats(m * k, 90 + m);
    const [wBits, w16] = halves(n * k, 91);
    const w32 = randomFloats(n * k, 92);
    if (dtype === 'f16') assertPacked(chunked);
    const weight = dtype === 'f16' ? t(wBits, [n, k], chunked) : t(w32, [n, k], chunked);
    if (weight.chunks.length < 3) throw new Error(`${weight.chunks.length} chunks, expected ≥ 3`);
    const b = randomFloats(n, 93);
    const r = randomFloats(m * n, 94);
    const y = matmul(t(x, [m, k], chunked), weight, t(b, [n], chunked), {
      residual: t(r, [m, n], chunked),
    });
    const w = dtype === 'f16' ? w16 : w32;
    return [await y.read(), addReference(matmulReference(x, w, m, n, k, b), r)];
  }
  await run(async () => ({ 'chunked-gemv': await chunkedLinear(1, 'f16') }), ['chunked-gemv']);
  await run(async () => ({ 'chunked-gemm': await chunkedLinear(5, 'f32') }), ['chunked-gemm']);

  await run(async () => {
    const [rows, cols] = [5, 129];
    const x = randomFloats(rows * cols, 100, -3, 5);
    const w = randomFloats(cols, 101, 0.5, 1.5);
    const b = randomFloats(cols, 102);
    const y = layerNorm(t(x, [rows, cols]), t(w), t(b), 1e-5);
    return { 'layer-norm': [await y.read(), layerNormReference(x, w, b, cols, 1e-5)] };
  }, ['layer-norm']);

  await run(async () => {
    assertPacked(device);
    const [rows, cols] = [3, 131];
    const x = randomFloats(rows * cols, 110, -2, 2);
    const [wBits, w] = halves(cols, 111, 0.5, 1.5);
    const [bBits, b] = halves(cols, 112);
    const y = layerNorm(t(x, [rows, cols]), t(wBits), t(bBits));
    return { 'layer-norm-f16': [await y.read(), layerNormReference(x, w, b, cols)] };
  }, ['layer-norm-f16']);

  await run(async () => {
    assertPacked(device);
    const [vocab, cols] = [37, 13];
    const ids = new Uint32Array([5, 0, 36, 5, 17, 1, 30, vocab, 5000]);
    const [bits, table] = halves(vocab * cols, 120);
    const y = embedding(t(ids), t(bits, [vocab, cols]));
    return { 'embedding-f16': [await y.read(), embeddingReference(ids, table, cols)] };
  }, ['embedding-f16']);

  await run(async () => {
    const table = randomFloats(300 * 8, 121); // 32-byte rows: 128 per 4 KiB chunk
    const ids = new Uint32Array([0, 127, 128, 299, 300, 5000, 200]);
    const y = embedding(t(ids, [ids.length], chunked), t(table, [300, 8], chunked));
    return { 'embedding-chunked': [await y.read(), embeddingReference(ids, table, 8)] };
  }, ['embedding-chunked']);

  await run(async () => {
    const short = randomFloats(3 * 255, 130, -10, 10);
    const long = randomFloats(2 * 5003, 131, -10, 10);
    for (const i of [4000, 100, 2500]) long[i] = 20; // ties in row 0: the first (100) wins
    const actual = concat(
      await argmax(t(short, [3, 255])).read(),
      await argmax(t(long, [2, 5003])).read(),
    );
    return { argmax: [actual, concat(argmaxReference(short, 255), argmaxReference(long, 5003))] };
  }, ['argmax']);

  await run(async () => {
    const near = { tokens: 7, heads: 2, headDim: 80, rotaryDims: 20, positionOffset: 13 };
    const far = { tokens: 129, heads: 2, headDim: 64, rotaryDims: 16, positionOffset: 1000 };
    const results: Partial<Record<CheckName, Pair>> = {};
    for (const [name, o] of [
      ['rotary', near],
      ['rotary-far', far],
    ] as const) {
      const x = randomFloats(o.tokens * o.heads * o.headDim, 140 + o.headDim);
      const y = rotary(t(x, [o.tokens, o.heads, o.headDim]), o);
      results[name] = [await y.read(), rotaryReference(x, o)];
    }
    return results;
  }, ['rotary', 'rotary-far']);

  await run(async () => {
    const sizes = { tokens: 7, heads: 2, headDim: 80, maxPositions: 40, positionOffset: 20 };
    const { tokens, heads, headDim, maxPositions } = sizes;
    const qkv = randomFloats(tokens * heads * 3 * headDim, 150);
    const k0 = randomFloats(heads * maxPositions * headDim, 151);
    const v0 = randomFloats(heads * maxPositions * headDim, 152);
    const kCache = t(k0, [heads, maxPositions, headDim]);
    const vCache = t(v0, [heads, maxPositions, headDim]);
    const q = splitQkvRotary(t(qkv, [tokens, heads * 3 * headDim]), kCache, vCache, {
      heads,
      rotaryDims: 20,
      positionOffset: sizes.positionOffset,
    });
    const expected = splitQkvRotaryReference(qkv, k0, v0, { ...sizes, rotaryDims: 20 });
    return {
      'split-qkv-rotary-q': [await q.read(), expected.q],
      'split-qkv-rotary-k': [await kCache.read(), expected.kCache],
      'split-qkv-rotary-v': [await vCache.read(), expected.vCache],
    };
  }, ['split-qkv-rotary-q', 'split-qkv-rotary-k', 'split-qkv-rotary-v']);

  await run(async () => {
    const sizes = { tokens: 7, heads: 2, headDim: 80, maxPositions: 48, positionOffset: 30 };
    const { tokens, heads, headDim, maxPositions, positionOffset } = sizes;
    const q = randomFloats(tokens * heads * headDim, 160, -2, 2);
    const k = randomFloats(heads * maxPositions * headDim, 161, -2, 2);
    const v = randomFloats(heads * maxPositions * headDim, 162);
    const cache = [heads, maxPositions, headDim];
    const [qT, kT, vT] = [t(q, [tokens, heads, headDim]), t(k, cache), t(v, cache)];
    const { output, probs } = attentionWithProbs(qT, kT, vT, { positionOffset });
    const plain = attention(qT, kT, vT, { positionOffset });
    const expected = attentionReference(q, k, v, sizes);
    return {
      // attention and attentionWithProbs give the same output.
      'attention-prefill': [
        concat(await output.read(), await plain.read()),
        concat(expected.output, expected.output),
      ],
      'attention-prefill-probs': [await probs.read(), expected.probs],
    };
  }, ['attention-prefill', 'attention-prefill-probs']);

  await run(async () => {
    // The model's flow: prefill 6 tokens, then decode 3 one at a time, each through
    // splitQkvRotary into the caches and attention over them.
    const [tokens, prefill, heads, headDim, maxPositions, rotaryDims] = [9, 6, 2, 80, 16, 20];
    const width = heads * 3 * headDim;
    const qkv = randomFloats(tokens * width, 170, -2, 2);
    const cache = [heads, maxPositions, headDim];
    const kCache = device.zeros(cache);
    const vCache = device.zeros(cache);
    const step = (first: number, last: number) => {
      const rows = qkv.subarray(first * width, last * width);
      const q = splitQkvRotary(t(rows, [last - first, width]), kCache, vCache, {
        heads,
        rotaryDims,
        positionOffset: first,
      });
      return attentionWithProbs(q, kCache, vCache, { positionOffset: first });
    };
    await step(0, prefill).output.read();
    const decoded: Float32Array[] = [];
    let probs: ArrayLike<number> = [];
    for (let p = prefill; p < tokens; p++) {
      const result = step(p, p + 1);
      decoded.push(await result.output.read());
      probs = await result.probs.read();
    }
    const sizes = { tokens, heads, headDim, maxPositions };
    const zeros = new Float32Array(heads * maxPositions * headDim);
    const split = splitQkvRotaryReference(qkv, zeros, zeros, { ...sizes, rotaryDims });
    const expected = attentionReference(split.q, split.kCache, split.vCache, sizes);
    // The last step's probabilities: row t = 8 of each head of the full [H, 9, 9] reference.
    const lastRows = Array.from({ length: heads }, (_, h) =>
      expected.probs.subarray((h * tokens + tokens - 1) * tokens, (h * tokens + tokens) * tokens),
    );
    return {
      'attention-decode': [concat(...decoded), expected.output.subarray(prefill * heads * headDim)],
      'attention-decode-probs': [probs, concat(...lastRows)],
    };
  }, ['attention-decode', 'attention-decode-probs']);

  /** Attention of random q over random caches, against the reference. */
  async function attend(
    sizes: { tokens: number; heads: number; headDim: number; maxPositions: number },
    positionOffset: number,
    seed: number,
    splitKeys?: boolean,
  ): Promise<Pair> {
    const { tokens, heads, headDim, maxPositions } = sizes;
    const q = randomFloats(tokens * heads * headDim, seed, -2, 2);
    const k = randomFloats(heads * maxPositions * headDim, seed + 1, -2, 2);
    const v = randomFloats(heads * maxPositions * headDim, seed + 2);
    const cache = [heads, maxPositions, headDim];
    const y = attention(t(q, [tokens, heads, headDim]), t(k, cache), t(v, cache), {
      positionOffset,
      splitKeys,
    });
    return [await y.read(), attentionReference(q, k, v, { ...sizes, positionOffset }).output];
  }
  await run(
    async () => ({
      'attention-long': await attend(
        { tokens: 1, heads: 2, headDim: 64, maxPositions: 2048 },
        2047,
        180,
      ),
    }),
    ['attention-long'],
  );
  await run(
    async () => ({
      'attention-split-ragged': await attend(
        { tokens: 5, heads: 2, headDim: 256, maxPositions: 520 },
        510,
        185,
      ),
    }),
    ['attention-split-ragged'],
  );
  await run(
    async () => ({
      'attention-split-scalar': await attend(
        { tokens: 1, heads: 2, headDim: 18, maxPositions: 720 },
        699,
        188,
        true,
      ),
    }),
    ['attention-split-scalar'],
  );

  await run(async () => {
    const cols = 50304;
    const logits = randomFloats(2 * cols, 190, -10, 10);
    const { values, indices } = topk(t(logits, [2, cols]), 40);
    const expected = topkReference(logits, cols, 40);
    const tied = randomFloats(cols, 191, 0, 8).map(Math.floor);
    const ties = topk(t(tied, [1, cols]), 64);
    const expectedTies = topkReference(tied, cols, 64);
    return {
      topk: [await values.read(), expected.values],
      'topk-indices': [await indices.read(), expected.indices],
      'topk-ties': [
        concat(await ties.indices.read(), await ties.values.read()),
        concat(expectedTies.indices, expectedTies.values),
      ],
    };
  }, ['topk', 'topk-indices', 'topk-ties']);

  /**
   * Attention in three parts (scores → pattern → output) for one case, each part against its
   * reference fed the GPU's own input (as attention-parts.test.ts does), the composition against
   * attention / attentionWithProbs and attentionReference, and garbage in masked entries.
   */
  async function attentionParts(
    c: {
      tokens: number;
      heads: number;
      headDim: number;
      maxPositions: number;
      positionOffset?: number;
      segments?: PackedSegment[];
    },
    seed: number,
  ) {
    const { tokens, heads, headDim, maxPositions, segments } = c;
    const q = randomFloats(tokens * heads * headDim, seed, -2, 2);
    const k = randomFloats(heads * maxPositions * headDim, seed + 1, -2, 2);
    const v = randomFloats(heads * maxPositions * headDim, seed + 2);
    const cache = [heads, maxPositions, headDim];
    const [qT, kT, vT] = [t(q, [tokens, heads, headDim]), t(k, cache), t(v, cache)];
    const packing = segments ? packSequences(device, segments) : undefined;
    const positionOffset = c.positionOffset ?? 0;
    const options: AttentionPartsOptions = packing ? { packing } : { positionOffset };
    const sizes = {
      tokens,
      heads,
      headDim,
      maxPositions,
      ...(segments ? { segments } : { positionOffset }),
    };
    // Row t's absolute position, and S (the row length of scores and pattern).
    const position = segments
      ? segments.flatMap((s) => Array.from({ length: s.length }, (_, i) => s.position + i))
      : Array.from({ length: tokens }, (_, i) => positionOffset + i);
    const keys = Math.max(0, ...position.map((p) => p + 1));
    const shape = [heads, tokens, keys];

    const scores = attentionScores(qT, kT, options);
    const pattern = causalSoftmax(scores, options);
    const output = applyPattern(pattern, vT, options);
    for (const [name, x, want] of [
      ['scores', scores, shape],
      ['pattern', pattern, shape],
      ['output', output, [tokens, heads * headDim]],
    ] as const) {
      if (x.shape.join() !== want.join()) {
        throw new Error(`${name} is [${x.shape}], expected [${want}]`);
      }
    }
    const [scoresGpu, patternGpu, outputGpu] = [
      await scores.read(),
      await pattern.read(),
      await output.read(),
    ];
    const expectedScores = attentionScoresReference(q, k, sizes);
    // The masked entries (−∞ in the reference) and what the GPU wrote there.
    const masked = Array.from(expectedScores.keys()).filter((i) => expectedScores[i] === -Infinity);
    if (masked.length === 0) throw new Error('the case masks no entries');

    // Garbage where j > p: neither causalSoftmax nor applyPattern may read it.
    const garbage = [1e30, Number.NaN, Number.POSITIVE_INFINITY, -1e30];
    const dirty = (data: Float32Array, value: number) => {
      const copy = Float32Array.from(data);
      for (let h = 0; h < heads; h++) {
        for (let row = 0; row < tokens; row++) {
          const base = (h * tokens + row) * keys;
          copy.fill(value, base + position[row]! + 1, base + keys);
        }
      }
      return copy;
    };
    const softmaxDirty: Float32Array[] = [];
    const applyDirty: Float32Array[] = [];
    for (const value of garbage) {
      softmaxDirty.push(await causalSoftmax(t(dirty(scoresGpu, value), shape), options).read());
      const dirtyPattern = t(dirty(patternGpu, value), shape);
      applyDirty.push(await applyPattern(dirtyPattern, vT, options).read());
    }

    const fused = await attention(qT, kT, vT, options).read();
    const withProbs = attentionWithProbs(qT, kT, vT, options);
    const expected = attentionReference(q, k, v, sizes);
    const result = {
      scores: [scoresGpu, expectedScores] as Pair,
      masked: [masked.map((i) => scoresGpu[i]!), masked.map((i) => expectedScores[i]!)] as Pair,
      pattern: [patternGpu, causalSoftmaxReference(scoresGpu, sizes)] as Pair,
      softmaxGarbage: [concat(...softmaxDirty), concat(...garbage.map(() => patternGpu))] as Pair,
      output: [outputGpu, applyPatternReference(patternGpu, v, sizes)] as Pair,
      applyGarbage: [concat(...applyDirty), concat(...garbage.map(() => outputGpu))] as Pair,
      composed: [
        concat(outputGpu, outputGpu, outputGpu),
        concat(fused, await withProbs.output.read(), expected.output),
      ] as Pair,
      probs: [
        concat(patternGpu, patternGpu),
        concat(await withProbs.probs.read(), expected.probs),
      ] as Pair,
    };
    packing?.dispose();
    return result;
  }
  await run(async () => {
    const single = await attentionParts(
      { tokens: 7, heads: 2, headDim: 18, maxPositions: 40, positionOffset: 30 },
      200,
    );
    // Three sequences with unused cache rows between them: A adds 5 tokens after 12 cached
    // (rows 0…16), B 1 after 30 (rows 40…70), C 9 after 3 (rows 75…86).
    const segments = [
      { cacheStart: 0, position: 12, length: 5 },
      { cacheStart: 40, position: 30, length: 1 },
      { cacheStart: 75, position: 3, length: 9 },
    ];
    const packed = await attentionParts(
      { tokens: 15, heads: 2, headDim: 64, maxPositions: 96, segments },
      210,
    );
    const both = (part: keyof typeof single): Pair => [
      concat(single[part][0], packed[part][0]),
      concat(single[part][1], packed[part][1]),
    ];
    return {
      'attention-scores': single.scores,
      'attention-scores-packed': packed.scores,
      'attention-scores-masked': both('masked'),
      'causal-softmax': both('pattern'),
      'causal-softmax-garbage': both('softmaxGarbage'),
      'apply-pattern': both('output'),
      'apply-pattern-garbage': both('applyGarbage'),
      'attention-parts': both('composed'),
      'attention-parts-probs': both('probs'),
    };
  }, [
    'attention-scores',
    'attention-scores-packed',
    'attention-scores-masked',
    'causal-softmax',
    'causal-softmax-garbage',
    'apply-pattern',
    'apply-pattern-garbage',
    'attention-parts',
    'attention-parts-probs',
  ]);

  await run(async () => {
    const shape = [3, 48, 80] as const;
    const options = { from: 0, to: [32, 16], length: 10 };
    const data = randomFloats(shape[0] * shape[1] * shape[2], 215);
    const cache = t(data, [...shape]);
    copyCacheRows(cache, options);
    return {
      'copy-cache-rows': [await cache.read(), copyCacheRowsReference(data, shape, options)],
    };
  }, ['copy-cache-rows']);

  // Quantized weights (q8, q4): dequantize exactly; GEMV and GEMM (bias, gelu, residual) against
  // the f32 reference on the dequantized weights; a matrix in row chunks, streamed in pieces.
  for (const format of ['q8', 'q4'] as const satisfies readonly QuantFormat[]) {
    await run(async () => {
      const [n, k] = [96, 160]; // 5 blocks a row: rows share scale words
      const w = randomFloats(n * k, 301, -0.1, 0.1);
      w[77] = 3; // an outlier block
      const ref = quantizeReference(w, [n, k], format);
      const q = quantize(device, w, [n, k], format);
      const rows = new Uint32Array([95, 0, 41, 41]);
      const picked = new Float32Array(rows.length * k);
      for (const [i, r] of rows.entries()) {
        picked.set(ref.dequantized.subarray(r * k, (r + 1) * k), i * k);
      }
      const linear = async (m: number, seed: number): Promise<Pair> => {
        const x = randomFloats(m * k, seed, -2, 2);
        const b = randomFloats(n, seed + 1);
        const r = randomFloats(m * n, seed + 2);
        const y = matmul(t(x, [m, k]), q, t(b), { activation: 'gelu', residual: t(r, [m, n]) });
        const expected = addReference(
          geluReference(matmulReference(x, ref.dequantized, m, n, k, b)),
          r,
        );
        return [await y.read(), expected];
      };
      return {
        [`quant-dequantize-${format}`]: [
          concat(await dequantize(q).read(), await dequantize(q, rows).read()),
          concat(ref.dequantized, picked),
        ],
        [`quant-gemv-${format}`]: await linear(1, 302),
        [`quant-gemm-${format}`]: await linear(7, 305),
      };
    }, [`quant-dequantize-${format}`, `quant-gemv-${format}`, `quant-gemm-${format}`]);
  }

  await run(async () => {
    const [n, k] = [100, 160]; // q4: 90 bytes a row, 44 rows a chunk under 4 KiB: 3 chunks
    const w = randomFloats(n * k, 311, -0.1, 0.1);
    const ref = quantizeReference(w, [n, k], 'q4');
    const q = QuantizedTensor.create(chunked, [n, k], 'q4');
    if (q.chunks.length !== 3) throw new Error(`expected 3 chunks, got ${q.chunks.length}`);
    for (let row = 0; row < n; row += 30) {
      await q.writeRows(row, w.subarray(row * k, Math.min(n, row + 30) * k));
    }
    const actual: ArrayLike<number>[] = [];
    const expected: ArrayLike<number>[] = [];
    for (const m of [1, 5]) {
      const x = randomFloats(m * k, 312 + m, -2, 2);
      const b = randomFloats(n, 313);
      const r = randomFloats(m * n, 314);
      const y = matmul(t(x, [m, k], chunked), q, t(b, [n], chunked), {
        residual: t(r, [m, n], chunked),
      });
      actual.push(await y.read());
      expected.push(addReference(matmulReference(x, ref.dequantized, m, n, k, b), r));
    }
    return { 'quant-chunked': [concat(...actual), concat(...expected)] };
  }, ['quant-chunked']);

  /** A CPU-side edit: the reference's, with values f32 of their shape (default [length]). */
  type Edit = Omit<EditSelectionReferenceEdit, 'values'> & { values?: Float32Array };
  /**
   * Runs edits of seeded targets on the GPU and the reference, each result followed by the
   * target read back after the edit (which must be left as it was).
   */
  async function edits(cases: [shape: number[], edit: Edit, seed: number][]): Promise<Pair> {
    const actual: ArrayLike<number>[] = [];
    const expected: ArrayLike<number>[] = [];
    for (const [shape, edit, seed] of cases) {
      const x = randomFloats(
        shape.reduce((a, b) => a * b, 1),
        seed,
        -4,
        4,
      );
      const target = t(x, shape);
      const { values, valuesShape, ...rest } = edit;
      const vShape = values ? (valuesShape ?? [values.length]) : undefined;
      const gpuEdit: TensorEdit = {
        ...rest,
        ...(values ? { values: t(values, [...vShape!]) } : {}),
      };
      const y = editSelection(target, gpuEdit);
      if (y.shape.join() !== shape.join()) throw new Error(`[${y.shape}], expected [${shape}]`);
      actual.push(await y.read(), await target.read());
      expected.push(
        editSelectionReference(x, shape, {
          ...rest,
          ...(values ? { values, valuesShape: vShape } : {}),
        }),
        x,
      );
    }
    return [concat(...actual), concat(...expected)];
  }
  await run(async () => {
    const rows = [[3, 0]];
    const rowValues = new Float32Array([10, 11, 12, 20, 21, 22]);
    const head = [null, [1]];
    const [clean, cleanShape, patch] = [randomFloats(40, 224), [5, 2, 4], [[4, 1], null, [3]]];
    const infinities = new Float32Array([Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY]);
    const infinity = await edits([
      [[3, 4], { op: 'set', select: [null, [2, 0]], values: infinities, valuesShape: [2] }, 225],
    ]);
    // The reference puts −∞ in column 2 and +∞ in column 0 of each row, then the target.
    if (!Array.from(infinity[1]).includes(Number.NEGATIVE_INFINITY)) {
      throw new Error('the reference wrote no −Infinity');
    }
    return {
      'edit-selection-axis-0': await edits([
        [[5, 3], { op: 'zero', select: rows }, 220],
        [[5, 3], { op: 'scale', by: 2.5, select: rows }, 220],
        [[5, 3], { op: 'add', select: rows, values: rowValues, valuesShape: [2, 3] }, 220],
        [[5, 3], { op: 'set', select: rows, values: rowValues, valuesShape: [2, 3] }, 220],
      ]),
      'edit-selection-axis-1': await edits([
        [[4, 3, 6], { op: 'zero', select: head }, 221],
        [[4, 3, 6], { op: 'scale', by: 0.5, select: [undefined, [2]] }, 221],
        // add broadcasts one [6] row over axis 0; set takes [4, 1, 6].
        [[4, 3, 6], { op: 'add', select: head, values: randomFloats(6, 222) }, 221],
        [
          [4, 3, 6],
          { op: 'set', select: head, values: randomFloats(24, 223), valuesShape: [4, 1, 6] },
          221,
        ],
      ]),
      'edit-selection-broadcast': await edits([
        [
          [6, 8],
          { op: 'add', select: [[1, 4]], values: randomFloats(8, 226), valuesShape: [8] },
          227,
        ],
        [[6, 8], { op: 'set', values: new Float32Array([7]), valuesShape: [1, 1] }, 227],
        [[6, 8], { op: 'set', values: new Float32Array([7]), valuesShape: [] }, 227],
      ]),
      'edit-selection-target': await edits([
        [
          cleanShape,
          { op: 'set', select: patch, values: clean, valuesShape: cleanShape, valuesAt: 'target' },
          228,
        ],
        [
          cleanShape,
          { op: 'add', select: patch, values: clean, valuesShape: cleanShape, valuesAt: 'target' },
          228,
        ],
      ]),
      'edit-selection-infinity': infinity,
    };
  }, [
    'edit-selection-axis-0',
    'edit-selection-axis-1',
    'edit-selection-broadcast',
    'edit-selection-target',
    'edit-selection-infinity',
  ]);

  await run(async () => {
    assertPacked(device);
    const [tokens, heads, headDim, n] = [7, 3, 13, 45];
    const k = heads * headDim;
    const z = randomFloats(tokens * k, 230);
    const w32 = randomFloats(n * k, 231, -0.5, 0.5); // 1755 elements: odd for f16
    const b32 = randomFloats(n, 232);
    const [wBits, w16] = [f32ArrayToF16Bits(w32), f16BitsToF32Array(f32ArrayToF16Bits(w32))];
    const [bBits, b16] = [f32ArrayToF16Bits(b32), f16BitsToF32Array(f32ArrayToF16Bits(b32))];
    const zT = t(z, [tokens, k]);
    const results: Partial<Record<'f32' | 'f16', { perHead: Pair; sum: Pair; matmul: Pair }>> = {};
    for (const dtype of ['f32', 'f16'] as const) {
      const [wT, bT] = dtype === 'f16' ? [t(wBits, [n, k]), t(bBits)] : [t(w32, [n, k]), t(b32)];
      const [w, b] = dtype === 'f16' ? [w16, b16] : [w32, b32];
      const perHead = headOutputs(zT, wT, { heads });
      if (perHead.shape.join() !== [tokens, heads, n].join()) {
        throw new Error(`headOutputs gave [${perHead.shape}]`);
      }
      const perHead3 = headOutputs(t(z, [tokens, heads, headDim]), wT, { heads });
      const expected = headOutputsReference(z, w, tokens, heads, headDim, n);
      const summed = await sumHeads(perHead, bT).read();
      results[dtype] = {
        perHead: [concat(await perHead.read(), await perHead3.read()), concat(expected, expected)],
        sum: [summed, sumHeadsReference(expected, tokens, heads, n, b)],
        matmul: [
          concat(summed, summed),
          concat(await matmul(zT, wT, bT).read(), matmulReference(z, w, tokens, n, k, b)),
        ],
      };
    }
    const { f32, f16 } = results as Required<typeof results>;
    return {
      'head-outputs-f32': f32.perHead,
      'head-outputs-f16': f16.perHead,
      'sum-heads': [concat(f32.sum[0], f16.sum[0]), concat(f32.sum[1], f16.sum[1])],
      'sum-heads-matmul': [
        concat(f32.matmul[0], f16.matmul[0]),
        concat(f32.matmul[1], f16.matmul[1]),
      ],
    };
  }, ['head-outputs-f32', 'head-outputs-f16', 'sum-heads', 'sum-heads-matmul']);

  await run(async () => {
    const shape = [2, 3, 129];
    const cols = 129;
    const x = randomFloats(2 * 3 * cols, 240, -3, 5);
    const w = randomFloats(cols, 241, 0.5, 1.5);
    const b = randomFloats(cols, 242);
    const xT = t(x, shape);
    const scale = layerNormScale(xT, 1e-5);
    if (scale.shape.join() !== '2,3,1') throw new Error(`layerNormScale gave [${scale.shape}]`);
    const expectedScale = layerNormScaleReference(x, cols, 1e-5);
    const given = await layerNorm(xT, t(w), t(b), 1e-5, { scale }).read();
    const plain = await layerNorm(xT, t(w), t(b), 1e-5).read();
    return {
      'layer-norm-scale': [await scale.read(), expectedScale],
      'layer-norm-given-scale': [
        concat(given, given),
        concat(plain, layerNormReference(x, w, b, cols, 1e-5, expectedScale)),
      ],
    };
  }, ['layer-norm-scale', 'layer-norm-given-scale']);

  await run(async () => {
    assertPacked(device);
    const [rows, cols] = [3, 67];
    const x = randomFloats(rows * cols, 250, -2, 2);
    const [wBits, w] = halves(cols, 251, 0.5, 1.5);
    const [bBits, b] = halves(cols, 252);
    const xT = t(x, [rows, cols]);
    const [wT, bT] = [t(wBits), t(bBits)];
    const scale = layerNormScale(xT);
    const scaleValues = await scale.read();
    const given = await layerNorm(xT, wT, bT, 1e-5, { scale }).read();
    const plain = await layerNorm(xT, wT, bT).read();
    const doubled = t(
      scaleValues.map((s) => 2 * s),
      [rows, 1],
    );
    const halved = await layerNorm(xT, wT, bT, 1e-5, { scale: doubled }).read();
    return {
      'layer-norm-given-scale-f16': [
        given,
        layerNormReference(x, w, b, cols, 1e-5, layerNormScaleReference(x, cols)),
      ],
      'layer-norm-doubled-scale-f16': [
        halved.map((value, i) => value - b[i % cols]!),
        plain.map((value, i) => (value - b[i % cols]!) / 2),
      ],
    };
  }, ['layer-norm-given-scale-f16', 'layer-norm-doubled-scale-f16']);

  await run(async () => {
    const [m, n, k] = [3, 37, 64];
    const x = randomFloats(m * k, 260);
    const w = randomFloats(n * k, 261);
    const b = randomFloats(n, 262);
    const xT = t(x, [m, 2, k / 2]);
    const wT = t(w); // flat [n·k]
    const [xView, wView] = [xT.reshape([m, -1]), wT.reshape([n, k])];
    if (xView.buffer !== xT.buffer || wView.buffer !== wT.buffer) {
      throw new Error('reshape copied instead of viewing');
    }
    const y = await matmul(xView, wView, t(b)).read();
    const expected = matmulReference(x, w, m, n, k, b);
    // A row-chunked weight [75, 80] (12 rows per 4 KiB chunk) viewed as [150, 40]: its chunks
    // split at rows 24, 48, … of the view, and matmul reads them through the view.
    const [cn, ck] = [150, 40];
    const cw = randomFloats(cn * ck, 263);
    const cx = randomFloats(5 * ck, 264);
    const stored = t(cw, [75, 80], chunked);
    if (stored.chunks.length < 3) throw new Error(`${stored.chunks.length} chunks, expected ≥ 3`);
    const view = stored.reshape([cn, ck]);
    const cy = await matmul(t(cx, [5, ck], chunked), view).read();
    return {
      'reshape-view': [y, expected],
      'reshape-view-chunked': [cy, matmulReference(cx, cw, 5, cn, ck)],
    };
  }, ['reshape-view', 'reshape-view-chunked']);

  const report: PageReport = {
    environment: device.environment,
    shaderF16: device.features.shaderF16,
    adapter: device.adapterInfo.description || device.adapterInfo.vendor,
    checks,
  };
  device.destroy();
  chunked.destroy();
  return report;
}

(globalThis as { runChecks?: typeof runChecks }).runChecks = runChecks;
