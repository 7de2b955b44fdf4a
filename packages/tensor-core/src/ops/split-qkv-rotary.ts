import { ShapeError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import { splitQkvRotaryWgsl } from '../kernels/split-qkv-rotary.js';
import { placeRows } from '../packing.js';
import type { Tensor } from '../tensor.js';
import { checkDType, checkSameDevice } from './checks.js';
import { type RotaryOptions, rotaryParams } from './rotary-params.js';

/** Options of {@link splitQkvRotary}. */
export interface SplitQkvRotaryOptions extends RotaryOptions {
  /** Number of attention heads H. */
  heads: number;
}

/** Checks that a KV cache is f32 [heads, maxPositions, headDim]; returns maxPositions. */
export function checkCache(
  op: string,
  role: string,
  cache: Tensor,
  heads: number,
  headDim: number,
) {
  checkDType(op, role, cache, 'f32');
  const [h, maxPositions, d] = cache.shape;
  if (cache.shape.length !== 3 || h !== heads || d !== headDim || maxPositions === undefined) {
    throw new ShapeError(
      `${op}: ${role} must be [heads=${heads}, maxPositions, headDim=${headDim}], got ${cache.toString()}`,
    );
  }
  return maxPositions;
}

/**
 * The fused first step of GPT-NeoX attention: splits the query_key_value output qkv f32
 * [tokens, heads·3·headDim] (per head: q, k, v, each headDim long), applies rotary embedding to q
 * and k, and writes k and v into the caches (f32 [heads, maxPositions, headDim]) at rows
 * positionOffset … positionOffset + tokens − 1 (with `packing`: each row at position p of its
 * sequence to cache row cacheStart + p). Returns the rotated q, f32 [tokens, heads, headDim].
 * One dispatch.
 *
 * @throws {ShapeError} qkv or the caches have the wrong shape, the rows overrun the caches, or a
 *   packing does not match qkv's rows, comes with `positionOffset`, or needs more cache rows
 *   than the caches hold (a GPU write past the end would be dropped without an error).
 *
 * @example
 * ```ts
 * const kCache = device.zeros([16, 2048, 128]);
 * const vCache = device.zeros([16, 2048, 128]);
 * const qkv = matmul(normed, qkvWeight, qkvBias); // [tokens, 3·hidden]
 * const q = splitQkvRotary(qkv, kCache, vCache, { heads: 16, rotaryDims: 32, positionOffset: 0 });
 * const context = attention(q, kCache, vCache, { positionOffset: 0 });
 * // several sequences in one batch (see packSequences)
 * const packing = packSequences(device, segments);
 * const qs = splitQkvRotary(packedQkv, kCache, vCache, { heads: 16, rotaryDims: 32, packing });
 * ```
 */
export function splitQkvRotary(
  qkv: Tensor<'f32'>,
  kCache: Tensor<'f32'>,
  vCache: Tensor<'f32'>,
  options: SplitQkvRotaryOptions,
): Tensor<'f32'> {
  const op = 'splitQkvRotary';
  checkDType(op, 'qkv', qkv, 'f32');
  checkSameDevice(op, qkv, kCache, vCache);
  const { heads } = options;
  const tokens = qkv.shape[0];
  // From the shape, not size / tokens, so that a batch of 0 tokens keeps its head dim.
  const width = qkv.shape[1] ?? Number.NaN;
  if (qkv.shape.length !== 2 || tokens === undefined || !(heads > 0) || width % (3 * heads) !== 0) {
    throw new ShapeError(`${op}: qkv must be [tokens, heads·3·headDim], got ${qkv.toString()}`);
  }
  const headDim = width / (3 * heads);
  const maxPositions = checkCache(op, 'kCache', kCache, heads, headDim);
  checkCache(op, 'vCache', vCache, heads, headDim);
  const device = qkv.device;
  const { table, positionOffset } = placeRows(op, options, tokens, device, maxPositions);
  if (!table && positionOffset + tokens > maxPositions) {
    throw new ShapeError(
      `${op}: positions ${positionOffset}…${positionOffset + tokens - 1} overrun a cache of ${maxPositions} positions`,
    );
  }
  const uniforms = rotaryParams(op, options, { tokens, heads, headDim, maxPositions });
  const q = device.empty([tokens, heads, headDim], 'f32');
  if (q.size === 0) return q;
  device.dispatch({
    code: splitQkvRotaryWgsl(table !== undefined),
    bindings: table ? [qkv, q, kCache, vCache, table] : [qkv, q, kCache, vCache],
    uniforms,
    workgroups: workgroupGrid(
      Math.ceil(q.size / 256),
      device.limits.maxComputeWorkgroupsPerDimension,
    ),
  });
  return q;
}
