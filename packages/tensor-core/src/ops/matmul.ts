import { ShapeError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import { gemmWgsl } from '../kernels/gemm.js';
import { GEMV_SUBGROUP_ROWS, gemvScalarWgsl, gemvSubgroupWgsl, gemvWgsl } from '../kernels/gemv.js';
import type { Activation, LinearVariant } from '../kernels/linear.js';
import type { Tensor } from '../tensor.js';
import { checkDType, checkSameDevice, checkSameShape, rowsAndColumns } from './checks.js';
import { storageTypeOf } from './storage-type.js';

/** Fused epilogue of {@link matmul}. */
export interface MatmulOptions {
  /** Applied after the bias: `'gelu'` (exact, Pythia's MLP) or `'gelu-tanh'`. Default none. */
  activation?: Activation;
  /** f32 tensor of the output's shape added last (a fused residual add). */
  residual?: Tensor<'f32'>;
}

/**
 * A linear layer, `y = act(x·Wᵀ + b) + residual`: x f32 [..., K], W f32 or f16 [N, K]
 * (PyTorch's `nn.Linear.weight` layout), optional bias f32 or f16 [N], optional activation and
 * residual (f32 [..., N]) fused into the same kernel; returns f32 [..., N]. One input row runs a
 * GEMV kernel (8 weights per load when K % 8 = 0, reduced per subgroup where the device has
 * subgroups of a known size), more rows a register-blocked GEMM. f16
 * weights are widened exactly and accumulated in f32.
 *
 * A weight larger than the device's binding limit (stored in row chunks, see `Tensor.chunks`)
 * is multiplied chunk by chunk, each dispatch writing its own columns of y.
 *
 * @example
 * ```ts
 * const w = device.tensor(f32ArrayToF16Bits(weights), [4 * hidden, hidden]);
 * const h = matmul(x, w, bias, { activation: 'gelu' }); // [tokens, 4·hidden], one dispatch
 * const out = matmul(h, w2, b2, { residual: x }); // x + h·W2ᵀ + b2
 * ```
 */
export function matmul(
  x: Tensor<'f32'>,
  weight: Tensor<'f32' | 'f16'>,
  bias?: Tensor<'f32' | 'f16'>,
  options: MatmulOptions = {},
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
  checkSameDevice('matmul', x, weight);
  if (bias) {
    checkDType('matmul', 'bias', bias, 'f32', 'f16');
    if (bias.size !== n) throw new ShapeError(`matmul: bias must have ${n} elements, got ${bias}`);
    checkSameDevice('matmul', x, bias);
  }
  const device = x.device;
  const y = device.empty([...x.shape.slice(0, -1), n], 'f32');
  const { residual, activation = 'none' } = options;
  if (residual) {
    checkDType('matmul', 'residual', residual, 'f32');
    checkSameShape('matmul', residual, y);
    checkSameDevice('matmul', x, residual);
  }
  if (y.size === 0) return y;
  const variant: LinearVariant = {
    weight: storageTypeOf(weight),
    bias: bias && storageTypeOf(bias),
    residual: residual !== undefined,
    activation,
  };
  const gemv = m === 1;
  let code = gemmWgsl(variant);
  let rowsPerWorkgroup = 1;
  if (gemv) {
    const subgroupSize = device.features.subgroupSize;
    if (k % 8 !== 0) {
      code = gemvScalarWgsl(variant);
    } else if (subgroupSize && subgroupSize <= 64 && 64 % subgroupSize === 0) {
      code = gemvSubgroupWgsl(variant);
      rowsPerWorkgroup = (64 / subgroupSize) * GEMV_SUBGROUP_ROWS;
    } else {
      code = gemvWgsl(variant);
      rowsPerWorkgroup = 4;
    }
  }
  for (const chunk of weight.chunks) {
    const bindings = [x, chunk.buffer, ...(bias ? [bias] : []), ...(residual ? [residual] : []), y];
    device.dispatch({
      code,
      bindings,
      uniforms: new Uint32Array([m, chunk.rows, k, n, chunk.firstRow]),
      workgroups: gemv
        ? workgroupGrid(
            Math.ceil(chunk.rows / rowsPerWorkgroup),
            device.limits.maxComputeWorkgroupsPerDimension,
          )
        : [Math.ceil(chunk.rows / 64), Math.ceil(m / 64)],
    });
  }
  return y;
}
