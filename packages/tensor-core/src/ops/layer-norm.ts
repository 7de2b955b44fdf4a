import { ShapeError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import {
  layerNormGivenScaleWgsl,
  layerNormScaleWgsl,
  layerNormWgsl,
} from '../kernels/layer-norm.js';
import type { Tensor } from '../tensor.js';
import { checkDType, checkSameDevice, rowsAndColumns } from './checks.js';
import { storageTypeOf } from './storage-type.js';

/** Options of {@link layerNorm}. */
export interface LayerNormOptions {
  /**
   * Use this scale instead of computing it (TransformerLens' `ln.hook_scale`, e.g. patched from
   * another run or frozen for attribution): f32 of x's shape with the last dimension 1, one value
   * per row. The mean is still computed from x: y = (x − mean)/scale·w + b.
   */
  scale?: Tensor<'f32'>;
}

/**
 * LayerNorm over the last dimension of x (f32 [..., C]) with weight and bias (f32 or f16 [C]);
 * statistics in f32. Returns a new f32 tensor of x's shape. GPT-NeoX uses eps = 1e-5.
 *
 * With `options.scale` (f32 [..., 1], see {@link layerNormScale}) the row's scale is taken from it
 * rather than computed (eps is then unused): y = (x − mean)/scale·w + b.
 *
 * @example
 * ```ts
 * const normed = layerNorm(hidden, ln1Weight, ln1Bias, 1e-5);
 * // The same with the scale as its own activation (TransformerLens' ln.hook_scale):
 * const scale = layerNormScale(hidden, 1e-5);
 * const same = layerNorm(hidden, ln1Weight, ln1Bias, 1e-5, { scale });
 * ```
 */
export function layerNorm(
  x: Tensor<'f32'>,
  weight: Tensor<'f32' | 'f16'>,
  bias: Tensor<'f32' | 'f16'>,
  eps = 1e-5,
  options: LayerNormOptions = {},
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
  const { scale } = options;
  if (scale) {
    checkDType('layerNorm', 'options.scale', scale, 'f32');
    checkSameDevice('layerNorm', x, scale);
    checkScaleShape('layerNorm', x, scale);
  }
  const device = x.device;
  const y = device.zeros(x.shape, 'f32');
  if (y.size === 0) return y;
  const workgroups = workgroupGrid(rows, device.limits.maxComputeWorkgroupsPerDimension);
  if (scale) {
    device.dispatch({
      code: layerNormGivenScaleWgsl(storageTypeOf(weight), storageTypeOf(bias)),
      bindings: [x, scale, weight, bias, y],
      uniforms: new Uint32Array([rows, cols]),
      workgroups,
    });
    return y;
  }
  const params = new ArrayBuffer(12);
  new Uint32Array(params, 0, 2).set([rows, cols]);
  new Float32Array(params, 8, 1)[0] = eps;
  device.dispatch({
    code: layerNormWgsl(storageTypeOf(weight), storageTypeOf(bias)),
    bindings: [x, weight, bias, y],
    uniforms: new Uint8Array(params),
    workgroups,
  });
  return y;
}

/**
 * LayerNorm's scale as its own activation (TransformerLens' `ln.hook_scale`): per row of x
 * (f32 [..., C]), sqrt(mean((x − mean)²) + eps), the biased variance as in {@link layerNorm}.
 * Returns f32 [..., 1] (x's shape with the last dimension 1).
 *
 * @example
 * ```ts
 * const scale = layerNormScale(hidden, 1e-5); // [tokens, 1]
 * const normed = layerNorm(hidden, w, b, 1e-5, { scale }); // equals layerNorm(hidden, w, b, 1e-5)
 * ```
 */
export function layerNormScale(x: Tensor<'f32'>, eps = 1e-5): Tensor<'f32'> {
  checkDType('layerNormScale', 'x', x, 'f32');
  const [rows, cols] = rowsAndColumns('layerNormScale', x);
  const device = x.device;
  const shape = [...x.shape.slice(0, -1), 1];
  if (cols === 0 && shape.every((d) => d > 0)) {
    throw new ShapeError(
      `layerNormScale: ${x.toString()} has rows of 0 elements, which have no variance`,
    );
  }
  const s = device.zeros(shape, 'f32');
  if (rows === 0) return s;
  const params = new ArrayBuffer(12);
  new Uint32Array(params, 0, 2).set([rows, cols]);
  new Float32Array(params, 8, 1)[0] = eps;
  device.dispatch({
    code: layerNormScaleWgsl,
    bindings: [x, s],
    uniforms: new Uint8Array(params),
    workgroups: workgroupGrid(rows, device.limits.maxComputeWorkgroupsPerDimension),
  });
  return s;
}

/** Throws unless `scale` has x's shape with the last dimension 1. */
function checkScaleShape(op: string, x: Tensor, scale: Tensor): void {
  const expected = [...x.shape.slice(0, -1), 1];
  if (scale.shape.length !== expected.length || scale.shape.some((d, i) => d !== expected[i])) {
    throw new ShapeError(
      `${op}: options.scale must be [${expected.join(', ')}] (one value per row of ` +
        `${x.toString()}, as layerNormScale returns), got ${scale.toString()}`,
    );
  }
}
