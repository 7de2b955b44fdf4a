import { ShapeError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import { rotaryWgsl } from '../kernels/rotary.js';
import { placeRows } from '../packing.js';
import type { Tensor } from '../tensor.js';
import { checkDType } from './checks.js';
import { type RotaryOptions, rotaryParams } from './rotary-params.js';

/**
 * GPT-NeoX rotary position embedding of x f32 [tokens, heads, headDim] into a new tensor: the
 * first `rotaryDims` of each head rotate half against half (dim i pairs with i + rotaryDims/2) by
 * θ_i = position·base^(−2i/rotaryDims), position = positionOffset + token index (with `packing`:
 * the row's position in its own sequence); the other dims pass through. Attention uses the fused
 * {@link splitQkvRotary} instead; this op exists for models and tests that need RoPE on its own.
 *
 * @throws {ShapeError} x is not [tokens, heads, headDim], rotaryDims does not fit, or a packing
 *   does not match x's rows or comes with `positionOffset`.
 *
 * @example
 * ```ts
 * // pythia-70m: head dim 64, rotary_pct 0.25 → 16 rotary dims
 * const rotated = rotary(q, { rotaryDims: 16, base: 10000, positionOffset: cacheLength });
 * const packedRotated = rotary(packedQ, { rotaryDims: 16, packing }); // several sequences
 * ```
 */
export function rotary(x: Tensor<'f32'>, options: RotaryOptions): Tensor<'f32'> {
  checkDType('rotary', 'x', x, 'f32');
  const [tokens, heads, headDim] = x.shape;
  if (x.shape.length !== 3 || tokens === undefined || heads === undefined || !headDim) {
    throw new ShapeError(`rotary: x must be [tokens, heads, headDim], got ${x.toString()}`);
  }
  const device = x.device;
  const { table } = placeRows('rotary', options, tokens, device);
  const uniforms = rotaryParams('rotary', options, { tokens, heads, headDim });
  const y = device.empty(x.shape, 'f32');
  if (y.size === 0) return y;
  device.dispatch({
    code: rotaryWgsl(table !== undefined),
    bindings: table ? [x, y, table] : [x, y],
    uniforms,
    workgroups: workgroupGrid(
      Math.ceil(x.size / 256),
      device.limits.maxComputeWorkgroupsPerDimension,
    ),
  });
  return y;
}
