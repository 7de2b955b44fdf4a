import { ShapeError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import { argmaxWgsl } from '../kernels/argmax.js';
import type { Tensor } from '../tensor.js';
import { checkDType, rowsAndColumns } from './checks.js';

/**
 * Index of the maximum along the last dimension (the first one on ties), computed on the GPU so
 * that greedy decoding reads back 4 bytes per row instead of the logits. x f32 [..., C] → u32 [...].
 *
 * @example
 * ```ts
 * const next = await argmax(logits).read(); // Uint32Array of token ids
 * ```
 */
export function argmax(x: Tensor<'f32'>): Tensor<'u32'> {
  checkDType('argmax', 'x', x, 'f32');
  const [rows, cols] = rowsAndColumns('argmax', x);
  if (cols === 0) throw new ShapeError(`argmax: ${x.toString()} has empty rows`);
  const device = x.device;
  const y = device.zeros(x.shape.slice(0, -1), 'u32');
  if (rows === 0) return y;
  device.dispatch({
    code: argmaxWgsl,
    bindings: [x, y],
    uniforms: new Uint32Array([rows, cols]),
    workgroups: workgroupGrid(rows, device.limits.maxComputeWorkgroupsPerDimension),
  });
  return y;
}
