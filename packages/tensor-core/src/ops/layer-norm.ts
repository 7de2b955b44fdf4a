import { ShapeError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import { layerNormWgsl } from '../kernels/layer-norm.js';
import type { Tensor } from '../tensor.js';
import { checkDType, checkSameDevice, rowsAndColumns } from './checks.js';
import { storageTypeOf } from './storage-type.js';

/**
 * LayerNorm over the last dimension of x (f32 [..., C]) with weight and bias (f32 or f16 [C]);
 * statistics in f32. Returns a new f32 tensor of x's shape. GPT-NeoX uses eps = 1e-5.
 *
 * @example
 * ```ts
 * const normed = layerNorm(hidden, ln1Weight, ln1Bias, 1e-5);
 * ```
 */
export function layerNorm(
  x: Tensor<'f32'>,
  weight: Tensor<'f32' | 'f16'>,
  bias: Tensor<'f32' | 'f16'>,
  eps = 1e-5,
): Tensor<'f32'> {
  checkDType('layerNorm', 'x', x, 'f32');
  checkDType('layerNorm', 'weight', weight, 'f32', 'f16');
  checkDType('layerNorm', 'bias', bias, 'f32', 'f16');
  checkSameDevice('layerNorm', x, weight, bias);
  const [rows, cols] = rowsAndColumns('layerNorm', x);
  if (weight.size !== cols || bias.size !== cols) {
    throw new ShapeError(
      `layerNorm: weight and bias need ${cols} elements, got ${weight.toString()}, ${bias.toString()}`,
    );
  }
  const device = x.device;
  const y = device.zeros(x.shape, 'f32');
  if (y.size === 0) return y;
  const params = new ArrayBuffer(12);
  new Uint32Array(params, 0, 2).set([rows, cols]);
  new Float32Array(params, 8, 1)[0] = eps;
  device.dispatch({
    code: layerNormWgsl(storageTypeOf(weight), storageTypeOf(bias)),
    bindings: [x, weight, bias, y],
    uniforms: new Uint8Array(params),
    workgroups: workgroupGrid(rows, device.limits.maxComputeWorkgroupsPerDimension),
  });
  return y;
}
