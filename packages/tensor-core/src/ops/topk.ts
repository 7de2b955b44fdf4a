import { ShapeError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import { topkWgsl } from '../kernels/topk.js';
import type { Tensor } from '../tensor.js';
import { checkDType, rowsAndColumns } from './checks.js';

/** Output of {@link topk}: both `[..., k]`, best first. */
export interface TopK {
  values: Tensor<'f32'>;
  indices: Tensor<'u32'>;
}

/** The largest k that {@link topk} supports. */
export const MAX_TOPK = 64;

/**
 * The k largest entries of each row of x f32 [..., C] (k ≤ 64), best first, ties broken toward
 * the lower index, computed on the GPU so that sampling reads back 2k numbers per row instead of
 * the vocabulary's logits.
 *
 * @example
 * ```ts
 * const { values, indices } = topk(logits, 40); // logits [1, 50304]
 * const [v, i] = await Promise.all([values.read(), indices.read()]);
 * ```
 */
export function topk(x: Tensor<'f32'>, k: number): TopK {
  checkDType('topk', 'x', x, 'f32');
  const [rows, cols] = rowsAndColumns('topk', x);
  if (!Number.isInteger(k) || k < 1 || k > MAX_TOPK || k > cols) {
    throw new ShapeError(
      `topk: k must be an integer in [1, min(${MAX_TOPK}, ${cols} columns)], got ${k}`,
    );
  }
  const device = x.device;
  const shape = [...x.shape.slice(0, -1), k];
  const values = device.empty(shape, 'f32');
  const indices = device.empty(shape, 'u32');
  if (rows === 0) return { values, indices };
  device.dispatch({
    code: topkWgsl,
    bindings: [x, values, indices],
    uniforms: new Uint32Array([rows, cols, k]),
    workgroups: workgroupGrid(rows, device.limits.maxComputeWorkgroupsPerDimension),
  });
  return { values, indices };
}
