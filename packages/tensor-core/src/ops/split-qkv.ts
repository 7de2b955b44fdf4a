import { ShapeError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import { kvCacheWriteWgsl } from '../kernels/kv-cache-write.js';
import { splitQkvWgsl } from '../kernels/split-qkv.js';
import { placeRows, type SequencePacking } from '../packing.js';
import type { Tensor } from '../tensor.js';
import { checkDType } from './checks.js';
import { checkCache } from './split-qkv-rotary.js';

/**
 * Splits GPT-NeoX's fused query_key_value output qkv f32 [tokens, heads·3·headDim] (per head:
 * q, k, v) into q, k, v f32 [tokens, heads, headDim], unrotated. The unfused counterpart of
 * {@link splitQkvRotary}, for reading or changing q, k and v before rotary embedding
 * (interpretability hooks); follow it with `rotary` and {@link writeKvCache}.
 *
 * @example
 * ```ts
 * const { q, k, v } = splitQkv(qkv, { heads: 8 });
 * writeKvCache(rotary(k, rope), v, kCache, vCache, { positionOffset });
 * ```
 */
export function splitQkv(
  qkv: Tensor<'f32'>,
  options: { heads: number },
): { q: Tensor<'f32'>; k: Tensor<'f32'>; v: Tensor<'f32'> } {
  checkDType('splitQkv', 'qkv', qkv, 'f32');
  const { heads } = options;
  const [tokens, width] = qkv.shape;
  if (
    qkv.shape.length !== 2 ||
    tokens === undefined ||
    !width ||
    !Number.isInteger(heads) ||
    heads < 1 ||
    width % (3 * heads) !== 0
  ) {
    throw new ShapeError(
      `splitQkv: qkv must be [tokens, heads·3·headDim] with heads=${heads}, got ${qkv.toString()}`,
    );
  }
  const headDim = width / (3 * heads);
  const device = qkv.device;
  const shape = [tokens, heads, headDim];
  const [q, k, v] = [device.empty(shape), device.empty(shape), device.empty(shape)];
  const n = tokens * heads * headDim;
  if (n > 0) {
    device.dispatch({
      code: splitQkvWgsl,
      bindings: [qkv, q, k, v],
      uniforms: new Uint32Array([n, heads, headDim]),
      workgroups: workgroupGrid(Math.ceil(n / 256), device.limits.maxComputeWorkgroupsPerDimension),
    });
  }
  return { q, k, v };
}

/** Options of {@link writeKvCache}. */
export interface WriteKvCacheOptions {
  /** Cache row of the first token (the number of tokens already cached). */
  positionOffset?: number;
  /**
   * Several sequences packed into the rows (instead of `positionOffset`): the row at position p of
   * its sequence goes to cache row cacheStart + p (see `packSequences`).
   */
  packing?: SequencePacking;
}

/**
 * Writes k, v f32 [tokens, heads, headDim] into the KV caches f32 [heads, maxPositions, headDim]
 * at rows positionOffset … positionOffset + tokens − 1 (with `packing`: each row to its
 * sequence's cache row cacheStart + position), as {@link splitQkvRotary} does in its fused form.
 *
 * @throws {ShapeError} k, v or the caches have the wrong shape, the rows do not fit the caches,
 *   or a packing does not match k's rows, comes with `positionOffset`, or needs more cache rows
 *   than the caches hold.
 *
 * @example
 * ```ts
 * writeKvCache(rotary(k, { rotaryDims, packing }), v, kCache, vCache, { packing });
 * ```
 */
export function writeKvCache(
  k: Tensor<'f32'>,
  v: Tensor<'f32'>,
  kCache: Tensor<'f32'>,
  vCache: Tensor<'f32'>,
  options: WriteKvCacheOptions = {},
): void {
  const op = 'writeKvCache';
  checkDType(op, 'k', k, 'f32');
  checkDType(op, 'v', v, 'f32');
  const [tokens, heads, headDim] = k.shape;
  if (
    k.shape.length !== 3 ||
    tokens === undefined ||
    !heads ||
    !headDim ||
    v.shape.join() !== k.shape.join()
  ) {
    throw new ShapeError(
      `${op}: k and v must both be [tokens, heads, headDim], got ${k.toString()} and ${v.toString()}`,
    );
  }
  const maxPositions = checkCache(op, 'kCache', kCache, heads, headDim);
  checkCache(op, 'vCache', vCache, heads, headDim);
  const device = k.device;
  const { table, positionOffset } = placeRows(op, options, tokens, device, maxPositions);
  if (
    !table &&
    (!Number.isInteger(positionOffset) ||
      positionOffset < 0 ||
      positionOffset + tokens > maxPositions)
  ) {
    throw new ShapeError(
      `${op}: rows ${positionOffset}…${positionOffset + tokens - 1} do not fit a cache of ${maxPositions} positions`,
    );
  }
  const n = tokens * heads * headDim;
  if (n === 0) return;
  device.dispatch({
    code: kvCacheWriteWgsl(table !== undefined),
    bindings: table ? [k, v, kCache, vCache, table] : [k, v, kCache, vCache],
    uniforms: new Uint32Array([n, heads, headDim, maxPositions, positionOffset]),
    workgroups: workgroupGrid(Math.ceil(n / 256), device.limits.maxComputeWorkgroupsPerDimension),
  });
}
