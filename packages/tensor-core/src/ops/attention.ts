import { ShapeError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import {
  ATTENTION_SPLIT_KEYS,
  attentionCombineWgsl,
  attentionSplitWgsl,
  attentionWgsl,
} from '../kernels/attention.js';
import type { Tensor } from '../tensor.js';
import { checkDType, checkSameDevice } from './checks.js';
import { checkCache } from './split-qkv-rotary.js';

/** Options of {@link attention}. */
export interface AttentionOptions {
  /** Absolute position of the first query row (tokens already cached before this step). */
  positionOffset?: number;
  /**
   * Split each query's keys into blocks of 256, one workgroup each, and merge the blocks' partial
   * softmax sums in a second pass (flash-decoding). By default this happens when a block would
   * not be alone and there are at most 64 query rows (tokens·heads), i.e. in decoding, where one
   * workgroup per row leaves most of the GPU idle. `true` forces it, `false` forbids it.
   * {@link attentionWithProbs} never splits.
   */
  splitKeys?: boolean;
}

/** Query rows (tokens·heads) up to which {@link attention} splits long contexts by default. */
const SPLIT_MAX_ROWS = 64;

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
  const rows = tokens * heads;
  const splits = Math.ceil((positionOffset + tokens) / ATTENTION_SPLIT_KEYS);
  const params = new ArrayBuffer(28);
  new Uint32Array(params, 0, 7).set([
    tokens,
    heads,
    headDim,
    maxPositions,
    positionOffset,
    0,
    splits,
  ]);
  new Float32Array(params, 20, 1)[0] = 1 / Math.sqrt(headDim);
  const vec4 = headDim % 4 === 0;
  const maxPerDimension = device.limits.maxComputeWorkgroupsPerDimension;
  const split = !withProbs && (options.splitKeys ?? (splits > 1 && rows <= SPLIT_MAX_ROWS));
  if (split) {
    // Partial results of every (row, block); blocks past a row's last key stay unwritten.
    const partO = device.empty([rows * splits, headDim], 'f32');
    const partMl = device.empty([rows * splits, 2], 'f32');
    device.dispatch({
      code: attentionSplitWgsl(vec4),
      bindings: [q, kCache, vCache, partO, partMl],
      uniforms: new Uint8Array(params),
      workgroups: workgroupGrid(rows * splits, maxPerDimension),
    });
    device.dispatch({
      code: attentionCombineWgsl(),
      bindings: [partO, partMl, output],
      uniforms: new Uint8Array(params),
      workgroups: workgroupGrid(rows, maxPerDimension),
    });
    partO.dispose();
    partMl.dispose();
  } else {
    device.dispatch({
      code: attentionWgsl(withProbs, vec4),
      bindings: probs ? [q, kCache, vCache, output, probs] : [q, kCache, vCache, output],
      uniforms: new Uint8Array(params, 0, 24),
      workgroups: workgroupGrid(rows, maxPerDimension),
    });
  }
  return { output, probs };
}

/**
 * Causal multi-head attention of q f32 [tokens, heads, headDim ≤ 256] over KV caches f32
 * [heads, maxPositions, headDim] (filled by {@link splitQkvRotary}): the query at absolute
 * position p = positionOffset + t attends to cache rows 0…p with weights softmax(q·k/√headDim),
 * computed in f32 with max subtraction. Serves prefill (many rows) and decode (one row); a few
 * rows over more than 256 keys (decoding) split the keys over several workgroups and merge the
 * partial results in a second dispatch (see {@link AttentionOptions.splitKeys}).
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
