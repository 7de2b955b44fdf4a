// Bundled by esbuild for the browser test: runs every op through navigator.gpu on seeded inputs,
// compares each result with its CPU reference here in the page, and hands the errors back to
// Node (browser.test.ts), which asserts them check by check.
import {
  add,
  argmax,
  attention,
  attentionWithProbs,
  createDevice,
  type Device,
  embedding,
  f16BitsToF32Array,
  f32ArrayToF16Bits,
  gelu,
  layerNorm,
  matmul,
  rotary,
  splitQkvRotary,
  type Tensor,
  topk,
} from '../../src/index.js';
import {
  addReference,
  argmaxReference,
  attentionReference,
  embeddingReference,
  geluReference,
  geluTanhReference,
  layerNormReference,
  matmulReference,
  rotaryReference,
  splitQkvRotaryReference,
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
