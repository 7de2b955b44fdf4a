import { workgroupGrid } from '../grid.js';
import { geluErfWgsl, geluTanhWgsl } from '../kernels/gelu.js';
import type { Tensor } from '../tensor.js';
import { checkDType } from './checks.js';

/** Options of {@link gelu}. */
export interface GeluOptions {
  /** `'none'` (default): the exact erf form; `'tanh'`: the tanh approximation. */
  approximate?: 'none' | 'tanh';
}

/**
 * Elementwise GELU into a new f32 tensor of the same shape. Pythia's MLP uses the exact form
 * (`hidden_act: "gelu"`).
 *
 * @example
 * ```ts
 * const activated = gelu(mlpIn); // 0.5·x·(1 + erf(x/√2))
 * const approx = gelu(mlpIn, { approximate: 'tanh' });
 * ```
 */
export function gelu(x: Tensor<'f32'>, options: GeluOptions = {}): Tensor<'f32'> {
  checkDType('gelu', 'x', x, 'f32');
  const device = x.device;
  const y = device.zeros(x.shape, 'f32');
  device.dispatch({
    code: options.approximate === 'tanh' ? geluTanhWgsl : geluErfWgsl,
    bindings: [x, y],
    uniforms: new Uint32Array([x.size]),
    workgroups: workgroupGrid(
      Math.ceil(x.size / 256),
      device.limits.maxComputeWorkgroupsPerDimension,
    ),
  });
  return y;
}
