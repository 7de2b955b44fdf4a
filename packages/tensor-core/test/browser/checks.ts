// What the browser page checks, shared by the page (which runs the kernels and compares them with
// the CPU references in Chromium) and browser.test.ts (which asserts each result in its own `it`).
// The tolerances are those of the Node tests of the same ops.

/** Tolerance of one check: |actual − expected| ≤ rtol·|expected| + atol elementwise. */
export interface Tolerance {
  readonly rtol: number;
  readonly atol: number;
}

const EXACT: Tolerance = { rtol: 0, atol: 0 };
const F32: Tolerance = { rtol: 1e-5, atol: 0 };
const MATMUL: Tolerance = { rtol: 1e-5, atol: 1e-5 };
const MATMUL_F16: Tolerance = { rtol: 1e-3, atol: 1e-5 };
const ROTARY: Tolerance = { rtol: 1e-5, atol: 1e-6 };
// attention-parts.test.ts: scores 1e-5/1e-5, pattern 1e-5/1e-7, outputs 1e-5/1e-6.
const SCORES: Tolerance = { rtol: 1e-5, atol: 1e-5 };
const PATTERN: Tolerance = { rtol: 1e-5, atol: 1e-7 };
const CONTEXT: Tolerance = { rtol: 1e-5, atol: 1e-6 };
// head-outputs.test.ts: against the references 1e-5/1e-6, against matmul 1e-5/1e-5.
const HEADS: Tolerance = { rtol: 1e-5, atol: 1e-6 };
// layer-norm.test.ts: the scale 1e-5/1e-6; y − b under a doubled scale 1e-5/1e-6.
const LN_SCALE: Tolerance = { rtol: 1e-5, atol: 1e-6 };

/** Every check the page runs, by name, with what it covers (the `it` title) and its tolerance. */
export const BROWSER_CHECKS = {
  add: { title: 'add: a + b (4099 elements)', ...F32 },
  gelu: { title: 'gelu, exact erf form (4099 elements over [−8, 8))', ...F32 },
  'gelu-tanh': { title: 'gelu, tanh form (4099 elements over [−8, 8))', ...F32 },
  'gemv-scalar-f32': { title: 'matmul GEMV, scalar path (K % 8 ≠ 0), f32 W and bias', ...MATMUL },
  'gemv-f32': { title: 'matmul GEMV, 8 per load, f32 W and bias', ...MATMUL },
  'gemv-f16': { title: 'matmul GEMV, 8 per load, packed f16 W and bias', ...MATMUL_F16 },
  'gemv-scalar-f16': { title: 'matmul GEMV, scalar path, packed f16 W', ...MATMUL_F16 },
  'gemm-f32': { title: 'matmul GEMM, several ragged 64×64 tiles, f32 W and bias', ...MATMUL },
  'gemm-f16': { title: 'matmul GEMM, packed f16 W and bias', ...MATMUL_F16 },
  'epilogue-gemv': {
    title: 'matmul fused epilogue, GEMV: gelu(x·Wᵀ + b) + r, f16 W',
    ...MATMUL,
  },
  'epilogue-gemm': { title: 'matmul fused epilogue, GEMM: gelu_tanh(x·Wᵀ + b), f32 W', ...MATMUL },
  'chunked-gemv': {
    title: 'matmul GEMV with an f16 weight in row chunks (maxBindingBytes), bias + residual',
    ...MATMUL,
  },
  'chunked-gemm': {
    title: 'matmul GEMM with an f32 weight in row chunks (maxBindingBytes), bias + residual',
    ...MATMUL,
  },
  'layer-norm': { title: 'layerNorm, f32 weight and bias', ...MATMUL },
  'layer-norm-f16': { title: 'layerNorm, packed f16 weight and bias', ...MATMUL_F16 },
  'embedding-f16': {
    title: 'embedding of a packed f16 table (odd row length, out-of-range ids)',
    ...EXACT,
  },
  'embedding-chunked': { title: 'embedding of an f32 table in row chunks', ...EXACT },
  argmax: { title: 'argmax (rows of 255 and 5003, ties to the first index)', ...EXACT },
  rotary: { title: 'rotary, headDim 80, rotaryDims 20, 7 tokens from position 13', ...ROTARY },
  'rotary-far': { title: 'rotary, 129 tokens from position 1000', ...ROTARY },
  'split-qkv-rotary-q': { title: 'splitQkvRotary: the rotated q', ...ROTARY },
  'split-qkv-rotary-k': {
    title: 'splitQkvRotary: the rotated k written into the cache',
    ...ROTARY,
  },
  'split-qkv-rotary-v': { title: 'splitQkvRotary: v copied into the cache', ...EXACT },
  'attention-prefill': {
    title: 'attention prefill (7 queries from position 30, headDim 80)',
    rtol: 1e-5,
    atol: 1e-6,
  },
  'attention-prefill-probs': {
    title: 'attentionWithProbs prefill: the probabilities',
    rtol: 1e-5,
    atol: 1e-7,
  },
  'attention-decode': {
    title: 'attention decode after a prefill equals the CPU reference',
    rtol: 1e-5,
    atol: 1e-6,
  },
  'attention-decode-probs': {
    title: 'attentionWithProbs decode: the probabilities',
    rtol: 1e-5,
    atol: 1e-7,
  },
  'attention-long': {
    title: 'attention decode over 2048 cached keys, split into 8 blocks, headDim 64',
    rtol: 1e-5,
    atol: 1e-6,
  },
  'attention-split-ragged': {
    title: 'attention split, 5 queries from position 510 (2 or 3 blocks each), headDim 256',
    rtol: 1e-5,
    atol: 1e-6,
  },
  'attention-split-scalar': {
    title: 'attention split forced, headDim 18 (scalar loads), 700 keys',
    rtol: 1e-5,
    atol: 1e-6,
  },
  topk: { title: 'topk, k = 40 over 50304 columns: values', ...EXACT },
  'topk-indices': { title: 'topk, k = 40 over 50304 columns: indices', ...EXACT },
  'topk-ties': { title: 'topk, k = 64 over heavily tied logits: indices', ...EXACT },
  'attention-scores': {
    title: 'attentionScores, 7 queries from position 30, headDim 18 (masked entries exactly −∞)',
    ...SCORES,
  },
  'attention-scores-packed': {
    title:
      'attentionScores over a packing of 5, 1 and 9 tokens at cache rows 0, 40, 75 (masked −∞)',
    ...SCORES,
  },
  'attention-scores-masked': {
    title: 'attentionScores: every masked entry of both cases reads back as exactly −Infinity',
    ...EXACT,
  },
  'causal-softmax': {
    title: 'causalSoftmax of the GPU scores (one sequence and the packing)',
    ...PATTERN,
  },
  'causal-softmax-garbage': {
    title: 'causalSoftmax ignores 1e30, NaN, +∞ and −1e30 written into masked score entries',
    ...EXACT,
  },
  'apply-pattern': {
    title: 'applyPattern of the GPU pattern (one sequence and the packing)',
    ...CONTEXT,
  },
  'apply-pattern-garbage': {
    title: 'applyPattern ignores 1e30, NaN, +∞ and −1e30 written into masked pattern entries',
    ...EXACT,
  },
  'attention-parts': {
    title: 'attentionScores → causalSoftmax → applyPattern equals attention and its reference',
    ...CONTEXT,
  },
  'attention-parts-probs': {
    title: 'causalSoftmax(attentionScores) equals attentionWithProbs probs and the reference',
    ...PATTERN,
  },
  'copy-cache-rows': {
    title: 'copyCacheRows, [3, 48, 80] rows 0…9 to rows 32 and 16 in the same buffer',
    ...EXACT,
  },
  'quant-dequantize-q8': {
    title: 'dequantize q8 [96, 160], whole and rows [95, 0, 41, 41]',
    ...EXACT,
  },
  'quant-dequantize-q4': {
    title: 'dequantize q4 [96, 160], whole and rows [95, 0, 41, 41]',
    ...EXACT,
  },
  'quant-gemv-q8': {
    title: 'matmul GEMV, q8 W [96, 160]: gelu(x·Wᵀ + b) + r on the dequantized W',
    ...MATMUL,
  },
  'quant-gemv-q4': {
    title: 'matmul GEMV, q4 W [96, 160]: gelu(x·Wᵀ + b) + r on the dequantized W',
    ...MATMUL,
  },
  'quant-gemm-q8': { title: 'matmul GEMM, M=7, q8 W [96, 160], bias, gelu, residual', ...MATMUL },
  'quant-gemm-q4': { title: 'matmul GEMM, M=7, q4 W [96, 160], bias, gelu, residual', ...MATMUL },
  'quant-chunked': {
    title: 'matmul GEMV and GEMM with a q4 weight in row chunks, streamed by writeRows',
    ...MATMUL,
  },
  'edit-selection-axis-0': {
    title: 'editSelection zero/scale/add/set on rows [3, 0] of axis 0 (target untouched)',
    ...EXACT,
  },
  'edit-selection-axis-1': {
    title: 'editSelection zero/scale/add/set on index 1 of axis 1 of [4, 3, 6], broadcast values',
    ...EXACT,
  },
  'edit-selection-broadcast': {
    title: 'editSelection add of one broadcast row to rows [1, 4], and set of a scalar',
    ...EXACT,
  },
  'edit-selection-target': {
    title: "editSelection set/add with valuesAt 'target' (patching)",
    ...EXACT,
  },
  'edit-selection-infinity': {
    title: 'editSelection set keeps −Infinity and +Infinity values',
    ...EXACT,
  },
  'head-outputs-f32': { title: 'headOutputs, f32 W, T=7 H=3 D=13 N=45 (2-D and 3-D z)', ...HEADS },
  'head-outputs-f16': { title: 'headOutputs, packed f16 W (odd element count)', ...HEADS },
  'sum-heads': { title: 'sumHeads with bias (f32 and packed f16 bias)', ...HEADS },
  'sum-heads-matmul': {
    title: 'sumHeads(headOutputs(z, W), b) equals matmul(z, W, b), f32 and packed f16',
    ...MATMUL,
  },
  'layer-norm-scale': { title: 'layerNormScale of [2, 3, 129] as [2, 3, 1]', ...LN_SCALE },
  'layer-norm-given-scale': {
    title: 'layerNorm with { scale } from layerNormScale, f32 weight and bias',
    ...MATMUL,
  },
  'layer-norm-given-scale-f16': {
    title: 'layerNorm with { scale }, packed f16 weight and bias',
    ...MATMUL_F16,
  },
  'layer-norm-doubled-scale-f16': {
    title: 'layerNorm with a doubled scale halves y − b, packed f16 weight and bias',
    ...LN_SCALE,
  },
  'reshape-view': {
    title: 'Tensor.reshape views ([m, 2, k/2] as [m, k], a flat W as [n, k]) as matmul inputs',
    ...MATMUL,
  },
  'reshape-view-chunked': {
    title: 'Tensor.reshape of a row-chunked f32 weight [75, 80] as [150, 40], matmul input',
    ...MATMUL,
  },
} as const satisfies Record<string, Tolerance & { title: string }>;

export type CheckName = keyof typeof BROWSER_CHECKS;

/** How far a result is from its reference. */
export interface CheckResult {
  readonly elements: number;
  /** max |actual − expected|. */
  readonly maxAbsError: number;
  /** max of |actual − expected| − (rtol·|expected| + atol): ≤ 0 when within tolerance. */
  readonly maxExcess: number;
  /** The worst element outside the tolerance, or null. */
  readonly worst: string | null;
  /** Set when the op threw instead of returning. */
  readonly error?: string;
}

/**
 * Compares elementwise under `tolerance`. Non-finite values are compared exactly: equal
 * infinities (e.g. a masked score, −∞ in both) match with no error, and an infinity on one side
 * only, opposite infinities or a NaN anywhere count as an infinite error.
 */
export function compare(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: Tolerance,
): CheckResult {
  if (actual.length !== expected.length) {
    return {
      elements: actual.length,
      maxAbsError: Number.POSITIVE_INFINITY,
      maxExcess: Number.POSITIVE_INFINITY,
      worst: `length ${actual.length}, expected ${expected.length}`,
    };
  }
  let maxAbsError = 0;
  let maxExcess = Number.NEGATIVE_INFINITY;
  let worst: string | null = null;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    let error: number;
    let excess: number;
    if (a === e) {
      // Exact, infinities included (where Infinity − Infinity and rtol·Infinity would be NaN).
      error = 0;
      excess = -tolerance.atol;
    } else if (!Number.isFinite(a) || !Number.isFinite(e)) {
      // NaN, or an infinity not matched by the same infinity: never within tolerance.
      error = Number.POSITIVE_INFINITY;
      excess = Number.POSITIVE_INFINITY;
    } else {
      error = Math.abs(a - e);
      excess = error - (tolerance.rtol * Math.abs(e) + tolerance.atol);
    }
    maxAbsError = Math.max(maxAbsError, error);
    if (excess > maxExcess) {
      maxExcess = excess;
      if (excess > 0) worst = `element ${i}: got ${a}, expected ${e}`;
    }
  }
  return { elements: expected.length, maxAbsError, maxExcess, worst };
}
