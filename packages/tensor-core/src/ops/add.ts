import { workgroupGrid } from '../grid.js';
import { addWgsl } from '../kernels/add.js';
import type { Tensor } from '../tensor.js';
import { checkDType, checkSameDevice, checkSameShape } from './checks.js';

/**
 * Elementwise `a + b` (the residual add) into a new f32 tensor of the same shape.
 *
 * @example
 * ```ts
 * const residual = add(hidden, attentionOut);
 * console.log(await residual.read());
 * ```
 */
export function add(a: Tensor<'f32'>, b: Tensor<'f32'>): Tensor<'f32'> {
  checkDType('add', 'a', a, 'f32');
  checkDType('add', 'b', b, 'f32');
  checkSameShape('add', a, b);
  checkSameDevice('add', a, b);
  const device = a.device;
  const y = device.empty(a.shape, 'f32');
  device.dispatch({
    code: addWgsl,
    bindings: [a, b, y],
    uniforms: new Uint32Array([a.size]),
    workgroups: workgroupGrid(
      Math.ceil(a.size / 256),
      device.limits.maxComputeWorkgroupsPerDimension,
    ),
  });
  return y;
}
