// Causal attention in three separate ops, scores → pattern → output, for interpretability hooks
// that read or replace the intermediates (TransformerLens' hook_attn_scores and hook_pattern):
// attentionScores, then causalSoftmax, then applyPattern equals `attention` within f32 rounding.
// Slower than the fused kernels (the [heads, tokens, S] intermediates go through memory), so
// they run only when a hook asks for them.
import type { Device } from '../device.js';
import { ShapeError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import { applyPatternWgsl } from '../kernels/apply-pattern.js';
import { attentionScoresWgsl } from '../kernels/attention-scores.js';
import { causalSoftmaxWgsl } from '../kernels/causal-softmax.js';
import { type Placement, placeRows, type SequencePacking } from '../packing.js';
import type { Tensor } from '../tensor.js';
import { checkDType, checkSameDevice } from './checks.js';
import { checkCache } from './split-qkv-rotary.js';

/** Options of {@link attentionScores}, {@link causalSoftmax} and {@link applyPattern}. */
export interface AttentionPartsOptions {
  /** Absolute position of the first query row (tokens already cached before this step). */
  positionOffset?: number;
  /**
   * Several sequences packed into the query rows (instead of `positionOffset`), as for
   * `attention`: row t at position p of a sequence whose cache rows start at cacheStart sees
   * cache rows cacheStart … cacheStart + p, and key j of its row is cache row cacheStart + j.
   * Rows are then `packing.maxKeys` long.
   */
  packing?: SequencePacking;
}

/** Where the rows sit, and S: the row length of scores and pattern. */
interface Rows extends Placement {
  keys: number;
}

/**
 * Validates the placement of `tokens` query rows (against caches of `maxPositions`, if given)
 * and returns it with S = positionOffset + tokens (packed: packing.maxKeys).
 */
function placeQueries(
  op: string,
  options: AttentionPartsOptions,
  tokens: number,
  device: Device,
  maxPositions?: number,
): Rows {
  const placement = placeRows(op, options, tokens, device, maxPositions);
  const { packing } = options;
  if (packing) return { ...placement, keys: packing.maxKeys };
  const { positionOffset } = placement;
  if (!Number.isInteger(positionOffset) || positionOffset < 0) {
    throw new ShapeError(`${op}: positionOffset must be a non-negative integer`);
  }
  if (maxPositions !== undefined && positionOffset + tokens > maxPositions) {
    throw new ShapeError(
      `${op}: positions up to ${positionOffset + tokens - 1} overrun a cache of ${maxPositions} positions`,
    );
  }
  return { ...placement, keys: positionOffset + tokens };
}

/**
 * Checks scores or a pattern f32 [heads, tokens, S] against its placement (S as in
 * {@link placeQueries}); returns its heads, tokens and placement.
 */
function checkRows(
  op: string,
  role: string,
  x: Tensor,
  options: AttentionPartsOptions,
  maxPositions?: number,
): [heads: number, tokens: number, rows: Rows] {
  checkDType(op, role, x, 'f32');
  const [heads, tokens, keys] = x.shape;
  if (x.shape.length !== 3 || !heads || tokens === undefined || keys === undefined) {
    throw new ShapeError(`${op}: ${role} must be [heads, tokens, keys], got ${x.toString()}`);
  }
  const rows = placeQueries(op, options, tokens, x.device, maxPositions);
  if (keys !== rows.keys) {
    const why = options.packing
      ? `packing.maxKeys = ${rows.keys}`
      : `positionOffset + tokens = ${rows.positionOffset} + ${tokens}`;
    throw new ShapeError(
      `${op}: ${role} rows must hold ${rows.keys} keys (${why}), got ${x.toString()}`,
    );
  }
  return [heads, tokens, rows];
}

/** The kernel's bindings, with the packing table last when there is one. */
function withTable(rows: Rows, bindings: Tensor[]): Tensor[] {
  return rows.table ? [...bindings, rows.table] : bindings;
}

/**
 * Scaled, causally masked attention scores (TransformerLens' hook_attn_scores) of q f32
 * [tokens, heads, headDim ≤ 256] against kCache f32 [heads, maxPositions, headDim]: returns f32
 * [heads, tokens, S] with S = positionOffset + tokens, entry (h, t, j) = q[t,h,·]·kCache[h,j,·]/√headDim
 * for j ≤ p (p = positionOffset + t, the row's absolute position) and −Infinity for j > p. With
 * `packing`, S = packing.maxKeys and key j of a row is cache row cacheStart + j of its own sequence
 * (the layout of `attentionWithProbs`'s probs). Feed the result (or a hook's replacement) to
 * {@link causalSoftmax}.
 *
 * @throws {ShapeError} q or kCache has the wrong shape, positions overrun the cache, or a packing
 *   does not match q's rows, comes with `positionOffset`, or needs more cache rows than it holds.
 *
 * @example
 * ```ts
 * const options = { positionOffset: cachedTokens };
 * const scores = attentionScores(q, kCache, options); // [heads, tokens, cachedTokens + tokens]
 * const pattern = causalSoftmax(scores, options); // a hook may replace scores or pattern
 * const context = applyPattern(pattern, vCache, options); // = attention(q, kCache, vCache, options)
 * ```
 */
export function attentionScores(
  q: Tensor<'f32'>,
  kCache: Tensor<'f32'>,
  options: AttentionPartsOptions = {},
): Tensor<'f32'> {
  const op = 'attentionScores';
  checkDType(op, 'q', q, 'f32');
  checkSameDevice(op, q, kCache);
  const [tokens, heads, headDim] = q.shape;
  if (q.shape.length !== 3 || tokens === undefined || !heads || !headDim || headDim > 256) {
    throw new ShapeError(`${op}: q must be [tokens, heads, headDim ≤ 256], got ${q.toString()}`);
  }
  const maxPositions = checkCache(op, 'kCache', kCache, heads, headDim);
  const device = q.device;
  const rows = placeQueries(op, options, tokens, device, maxPositions);
  const scores = device.empty([heads, tokens, rows.keys], 'f32');
  if (scores.size === 0) return scores;
  const params = new ArrayBuffer(28);
  new Uint32Array(params, 0, 6).set([
    tokens,
    heads,
    headDim,
    maxPositions,
    rows.positionOffset,
    rows.keys,
  ]);
  new Float32Array(params, 24, 1)[0] = 1 / Math.sqrt(headDim);
  device.dispatch({
    code: attentionScoresWgsl(rows.table !== undefined),
    bindings: withTable(rows, [q, kCache, scores]),
    uniforms: new Uint8Array(params),
    workgroups: workgroupGrid(heads * tokens, device.limits.maxComputeWorkgroupsPerDimension),
  });
  return scores;
}

/**
 * Causal softmax of scores f32 [heads, tokens, S] (from {@link attentionScores}, or a hook's
 * replacement) into the attention pattern (TransformerLens' hook_pattern), f32 of the same shape:
 * row (h, t) is softmax over keys j ≤ p only (p = positionOffset + t, or the packing row's
 * position), in f32 with max subtraction, and exactly 0 for j > p. S must be positionOffset +
 * tokens (packed: packing.maxKeys).
 *
 * Entries j > p of `scores` are never read, so whatever a hook writes there has no effect. An
 * in-range −Infinity gets weight exactly 0 (a hook can mask a key so). A row whose in-range
 * scores are all −Infinity, or include NaN or +Infinity, comes out NaN at every j ≤ p (as in
 * torch.softmax; 0 beyond), never silently uniform.
 *
 * @throws {ShapeError} scores is not f32 [heads, tokens, S] with the S above, or a packing does
 *   not match its rows or comes with `positionOffset`.
 *
 * @example
 * ```ts
 * const scores = attentionScores(q, kCache, { packing });
 * const pattern = causalSoftmax(scores, { packing }); // [heads, packing.tokens, packing.maxKeys]
 * ```
 */
export function causalSoftmax(
  scores: Tensor<'f32'>,
  options: AttentionPartsOptions = {},
): Tensor<'f32'> {
  const op = 'causalSoftmax';
  const [heads, tokens, rows] = checkRows(op, 'scores', scores, options);
  const device = scores.device;
  const pattern = device.empty(scores.shape, 'f32');
  if (pattern.size === 0) return pattern;
  device.dispatch({
    code: causalSoftmaxWgsl(rows.table !== undefined),
    bindings: withTable(rows, [scores, pattern]),
    uniforms: new Uint32Array([tokens, heads, rows.keys, rows.positionOffset]),
    workgroups: workgroupGrid(heads * tokens, device.limits.maxComputeWorkgroupsPerDimension),
  });
  return pattern;
}

/**
 * The attention output from a pattern f32 [heads, tokens, S] (from {@link causalSoftmax}, or a
 * hook's replacement) over vCache f32 [heads, maxPositions, headDim ≤ 256]: returns f32
 * [tokens, heads·headDim] (the layout `attention` returns) with
 * out[t, h·headDim + d] = Σ_{j ≤ p} pattern[h,t,j]·vCache[h, j, d] (packed: vCache row
 * cacheStart + j). S must be positionOffset + tokens (packed: packing.maxKeys).
 *
 * Entries j > p of the pattern are never read, and the pattern is used as given (not
 * renormalised): a hook that sets any pattern gets exactly that mixture of values.
 *
 * @throws {ShapeError} the pattern or vCache has the wrong shape (S, or heads differing between
 *   them), positions overrun the cache, or a packing does not match the rows, comes with
 *   `positionOffset`, or needs more cache rows than it holds.
 *
 * @example
 * ```ts
 * // Uniform causal attention: row t averages the values of keys 0 … t.
 * const uniform = causalSoftmax(device.zeros([heads, tokens, tokens]));
 * const context = applyPattern(uniform, vCache); // [tokens, heads·headDim]
 * ```
 */
export function applyPattern(
  pattern: Tensor<'f32'>,
  vCache: Tensor<'f32'>,
  options: AttentionPartsOptions = {},
): Tensor<'f32'> {
  const op = 'applyPattern';
  checkDType(op, 'pattern', pattern, 'f32');
  checkSameDevice(op, pattern, vCache);
  const heads = pattern.shape[0];
  const headDim = vCache.shape[2];
  if (pattern.shape.length !== 3 || !heads) {
    throw new ShapeError(`${op}: pattern must be [heads, tokens, keys], got ${pattern.toString()}`);
  }
  if (vCache.shape.length !== 3 || !headDim || headDim > 256) {
    throw new ShapeError(
      `${op}: vCache must be [heads, maxPositions, headDim ≤ 256], got ${vCache.toString()}`,
    );
  }
  const maxPositions = checkCache(op, 'vCache', vCache, heads, headDim);
  const [, tokens, rows] = checkRows(op, 'pattern', pattern, options, maxPositions);
  const device = pattern.device;
  const output = device.empty([tokens, heads * headDim], 'f32');
  if (output.size === 0) return output;
  device.dispatch({
    code: applyPatternWgsl(rows.table !== undefined),
    bindings: withTable(rows, [pattern, vCache, output]),
    uniforms: new Uint32Array([
      tokens,
      heads,
      headDim,
      maxPositions,
      rows.positionOffset,
      rows.keys,
    ]),
    workgroups: workgroupGrid(tokens * heads, device.limits.maxComputeWorkgroupsPerDimension),
  });
  return output;
}
