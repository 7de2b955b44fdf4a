import { ShapeError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import { gemmWgsl, gemvWgsl } from '../kernels/matmul.js';
import type { Tensor } from '../tensor.js';
import { checkDType, checkSameDevice, rowsAndColumns } from './checks.js';
import { storageTypeOf } from './storage-type.js';

/**
 * A linear layer, `y = x·Wᵀ + b`: x f32 [..., K], W f32 or f16 [N, K] (PyTorch's
 * `nn.Linear.weight` layout), optional bias f32 or f16 [N]; returns f32 [..., N]. One input row
 * runs a GEMV kernel, more rows a tiled GEMM. f16 weights are widened exactly and accumulated in
 * f32.
 *
 * @example
 * ```ts
 * const w = device.tensor(f32ArrayToF16Bits(weights), [3 * hidden, hidden]);
 * const qkv = matmul(x, w, bias); // x: [tokens, hidden] → [tokens, 3·hidden]
 * ```
 */
export function matmul(
  x: Tensor<'f32'>,
  weight: Tensor<'f32' | 'f16'>,
  bias?: Tensor<'f32' | 'f16'>,
): Tensor<'f32'> {
  checkDType('matmul', 'x', x, 'f32');
  checkDType('matmul', 'weight', weight, 'f32', 'f16');
  const [m, k] = rowsAndColumns('matmul', x);
  const [n, wk] = weight.shape;
  if (weight.shape.length !== 2 || wk !== k || n === undefined) {
    throw new ShapeError(
      `matmul: weight must be [N, ${k}] for x ${x.toString()}, got ${weight.toString()}`,
    );
  }
  if (bias) {
    checkDType('matmul', 'bias', bias, 'f32', 'f16');
    if (bias.size !== n) throw new ShapeError(`matmul: bias must have ${n} elements, got ${bias}`);
    checkSameDevice('matmul', x, weight, bias);
  } else {
    checkSameDevice('matmul', x, weight);
  }
  const device = x.device;
  const y = device.zeros([...x.shape.slice(0, -1), n], 'f32');
  if (y.size === 0) return y;
  const types = { weight: storageTypeOf(weight), bias: bias && storageTypeOf(bias) };
  const bindings = bias ? [x, weight, bias, y] : [x, weight, y];
  if (m === 1) {
    device.dispatch({
      code: gemvWgsl(types),
      bindings,
      uniforms: new Uint32Array([n, k]),
      workgroups: workgroupGrid(n, device.limits.maxComputeWorkgroupsPerDimension),
    });
  } else {
    device.dispatch({
      code: gemmWgsl(types),
      bindings,
      uniforms: new Uint32Array([m, n, k]),
      workgroups: [Math.ceil(n / 16), Math.ceil(m / 16)],
    });
  }
  return y;
}
