import { ShapeError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import { copyCacheRowsWgsl } from '../kernels/copy-cache-rows.js';
import type { Tensor } from '../tensor.js';
import { checkDType } from './checks.js';

/** Options of {@link copyCacheRows}. */
export interface CopyCacheRowsOptions {
  /** First row of the range copied. */
  from: number;
  /** First row of each destination range (any order; none is a no-op). */
  to: readonly number[];
  /** Rows copied to each destination (0 is a no-op). */
  length: number;
}

/**
 * Copies the rows `from … from + length − 1` of a KV cache f32 `[heads, rows, headDim]` to the
 * rows `t … t + length − 1` for each `t` of `to`, in every head, within the same tensor: e.g. one
 * prompt's cached keys (or values) into the blocks of other sequences of a batch cache, so that
 * they continue from it without running it again. One dispatch, one invocation per copied element.
 *
 * A kernel does the copy, since WebGPU forbids `copyBufferToBuffer` within one buffer; the ranges
 * must therefore not overlap (the source with a destination, or two destinations), so that no
 * element is written while another invocation reads it.
 *
 * @throws {ShapeError} cache is not f32 `[heads, rows, headDim]`; `from`, `length` or a
 *   destination is not a non-negative integer; a range runs past the cache's rows; two ranges
 *   overlap.
 *
 * @example
 * ```ts
 * // Sequences of a batch cache own rows 0…15, 16…31, 32…47; sequence 0 cached a 10-token prompt.
 * for (const layer of [...keys, ...values]) copyCacheRows(layer, { from: 0, to: [16, 32], length: 10 });
 * ```
 */
export function copyCacheRows(cache: Tensor<'f32'>, options: CopyCacheRowsOptions): void {
  const op = 'copyCacheRows';
  checkDType(op, 'cache', cache, 'f32');
  const [heads, rows, headDim] = cache.shape;
  if (cache.shape.length !== 3 || !heads || rows === undefined || !headDim) {
    throw new ShapeError(`${op}: cache must be [heads, rows, headDim], got ${cache.toString()}`);
  }
  const { from, to, length } = options;
  const isCount = (x: number) => Number.isInteger(x) && x >= 0;
  if (!isCount(from) || !isCount(length)) {
    throw new ShapeError(
      `${op}: from and length must be non-negative integers, got from ${from} and length ${length}`,
    );
  }
  const starts = [from, ...to];
  for (const [k, start] of to.entries()) {
    if (!isCount(start)) {
      throw new ShapeError(`${op}: to[${k}] must be a non-negative integer row, got ${start}`);
    }
  }
  for (const start of starts) {
    if (start + length > rows) {
      throw new ShapeError(
        `${op}: rows ${start}…${start + length - 1} run past the ${rows} rows of ${cache.toString()}`,
      );
    }
  }
  if (length === 0 || to.length === 0) return;
  const sorted = [...starts].sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i - 1]! + length > sorted[i]!) {
      throw new ShapeError(
        `${op}: the ranges of ${length} rows at ${sorted[i - 1]} and ${sorted[i]} overlap ` +
          `(from ${from}, to [${to.join(', ')}]); copy to rows that no other range covers`,
      );
    }
  }
  const device = cache.device;
  const n = to.length * heads * length * headDim;
  const destinations = device.tensor(Uint32Array.from(to));
  device.dispatch({
    code: copyCacheRowsWgsl,
    bindings: [cache, destinations],
    uniforms: new Uint32Array([n, heads, headDim, rows, from, length]),
    workgroups: workgroupGrid(Math.ceil(n / 256), device.limits.maxComputeWorkgroupsPerDimension),
  });
  // Freed once the dispatch above has been submitted.
  destinations.dispose();
}
