import { ShapeError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import { attentionWgsl } from '../kernels/attention.js';
import type { Tensor } from '../tensor.js';
import { checkDType, checkSameDevice } from './checks.js';
import { checkCache } from './split-qkv-rotary.js';

/** Options of {@link attention}. */
export interface AttentionOptions {
  /** Absolute position of the first query row (tokens already cached before this step). */
  positionOffset?: number;
}

/** Output of {@link attentionWithProbs}. */
export interface AttentionResult {
  /** f32 [tokens, heads·headDim]. */
  output: Tensor<'f32'>;
  /** f32 [heads, tokens, positionOffset + tokens]: softmax weights, 0 where masked. */
  probs: Tensor<'f32'>;
}

function run(
  q: Tensor<'f32'>,
  kCache: Tensor<'f32'>,
  vCache: Tensor<'f32'>,
  options: AttentionOptions,
  withProbs: boolean,
): { output: Tensor<'f32'>; probs?: Tensor<'f32'> } {
  const op = withProbs ? 'attentionWithProbs' : 'attention';
  checkDType(op, 'q', q, 'f32');
  checkSameDevice(op, q, kCache, vCache);
  const [tokens, heads, headDim] = q.shape;
  if (q.shape.length !== 3 || tokens === undefined || !heads || !headDim || headDim > 256) {
    throw new ShapeError(`${op}: q must be [tokens, heads, headDim ≤ 256], got ${q.toString()}`);
  }
  const maxPositions = checkCache(op, 'kCache', kCache, heads, headDim);
  checkCache(op, 'vCache', vCache, heads, headDim);
  const positionOffset = options.positionOffset ?? 0;
  if (!Number.isInteger(positionOffset) || positionOffset < 0) {
    throw new ShapeError(`${op}: positionOffset must be a non-negative integer`);
  }
  if (positionOffset + tokens > maxPositions) {
    throw new ShapeError(
      `${op}: positions up to ${positionOffset + tokens - 1} overrun a cache of ${maxPositions} positions`,
    );
  }
  const device = q.device;
  const output = device.empty([tokens, heads * headDim], 'f32');
  const probs = withProbs
    ? device.empty([heads, tokens, positionOffset + tokens], 'f32')
    : undefined;
  if (tokens === 0) return { output, probs };
  const params = new ArrayBuffer(24);
  new Uint32Array(params, 0, 5).set([tokens, heads, headDim, maxPositions, positionOffset]);
  new Float32Array(params, 20, 1)[0] = 1 / Math.sqrt(headDim);
  device.dispatch({
    code: attentionWgsl(withProbs, headDim % 4 === 0),
    bindings: probs ? [q, kCache, vCache, output, probs] : [q, kCache, vCache, output],
    uniforms: new Uint8Array(params),
    workgroups: workgroupGrid(tokens * heads, device.limits.maxComputeWorkgroupsPerDimension),
  });
  return { output, probs };
}

/**
 * Causal multi-head attention of q f32 [tokens, heads, headDim ≤ 256] over KV caches f32
 * [heads, maxPositions, headDim] (filled by {@link splitQkvRotary}): the query at absolute
 * position p = positionOffset + t attends to cache rows 0…p with weights softmax(q·k/√headDim),
 * computed in f32 with max subtraction. Serves prefill (many rows) and decode (one row).
 * Returns f32 [tokens, heads·headDim].
 *
 * @example
 * ```ts
 * const context = attention(q, kCache, vCache, { positionOffset: cachedTokens });
 * const attnOut = matmul(context, denseWeight, denseBias);
 * ```
 */
export function attention(
  q: Tensor<'f32'>,
  kCache: Tensor<'f32'>,
  vCache: Tensor<'f32'>,
  options: AttentionOptions = {},
): Tensor<'f32'> {
  return run(q, kCache, vCache, options, false).output;
}

/**
 * {@link attention} that also writes the attention probabilities f32
 * [heads, tokens, positionOffset + tokens] (masked entries 0), for interpretability.
 */
export function attentionWithProbs(
  q: Tensor<'f32'>,
  kCache: Tensor<'f32'>,
  vCache: Tensor<'f32'>,
  options: AttentionOptions = {},
): AttentionResult {
  const { output, probs } = run(q, kCache, vCache, options, true);
  return { output, probs: probs! };
}
