import { ShapeError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import { headOutputsWgsl, sumHeadsWgsl } from '../kernels/head-outputs.js';
import type { Tensor } from '../tensor.js';
import { checkDType, checkSameDevice } from './checks.js';
import { storageTypeOf } from './storage-type.js';

/** Options of {@link headOutputs}. */
export interface HeadOutputsOptions {
  /** Attention heads: z's last dimension (or its last two) is heads · headDim. */
  heads: number;
}

/**
 * Each attention head's write into the residual stream (TransformerLens' `hook_result`, without
 * the dense bias): out[t,h,n] = Σ_d z[t,h,d]·W[n, h·D + d], where z is the attention's output
 * before the dense layer (f32 [tokens, heads·headDim] or [tokens, heads, headDim]) and W the
 * dense layer's weight (f32 or f16 [N, heads·headDim], PyTorch's `nn.Linear` layout). Returns f32
 * [tokens, heads, N]; {@link sumHeads} with the dense bias gives back the attention output.
 * One invocation per output element, accumulating in f32 (f16 weights widened exactly).
 *
 * @example
 * ```ts
 * const perHead = headOutputs(z, denseWeight, { heads: 8 }); // [tokens, 8, hidden]
 * const attnOut = sumHeads(perHead, denseBias); // = matmul(z, denseWeight, denseBias)
 * ```
 */
export function headOutputs(
  z: Tensor<'f32'>,
  weight: Tensor<'f32' | 'f16'>,
  options: HeadOutputsOptions,
): Tensor<'f32'> {
  checkDType('headOutputs', 'z', z, 'f32');
  checkDType('headOutputs', 'weight', weight, 'f32', 'f16');
  checkSameDevice('headOutputs', z, weight);
  const heads = options?.heads;
  if (!Number.isSafeInteger(heads) || heads < 1) {
    throw new ShapeError(`headOutputs: options.heads must be a positive integer, got ${heads}`);
  }
  const [tokens, second, third] = z.shape;
  let width: number;
  if (z.shape.length === 2) {
    width = second!;
    if (width % heads !== 0) {
      throw new ShapeError(
        `headOutputs: z ${z.toString()} has ${width} columns, not a multiple of ${heads} heads`,
      );
    }
  } else if (z.shape.length === 3 && second === heads) {
    width = heads * third!;
  } else {
    throw new ShapeError(
      `headOutputs: z must be [tokens, ${heads}·headDim] or [tokens, ${heads}, headDim], got ` +
        `${z.toString()}`,
    );
  }
  const headDim = width / heads;
  const [n, k] = weight.shape;
  if (weight.shape.length !== 2 || k !== width || n === undefined) {
    throw new ShapeError(
      `headOutputs: weight must be [N, ${width}] (the dense layer's nn.Linear weight) for z ` +
        `${z.toString()}, got ${weight.toString()}`,
    );
  }
  const device = z.device;
  const y = device.zeros([tokens!, heads, n], 'f32');
  if (y.size === 0) return y;
  const code = headOutputsWgsl(storageTypeOf(weight));
  for (const chunk of weight.chunks) {
    const count = tokens! * heads * chunk.rows;
    if (count === 0) continue;
    device.dispatch({
      code,
      bindings: [z, chunk.buffer, y],
      uniforms: new Uint32Array([count, heads, headDim, chunk.rows, n, chunk.firstRow]),
      workgroups: workgroupGrid(
        Math.ceil(count / 256),
        device.limits.maxComputeWorkgroupsPerDimension,
      ),
    });
  }
  return y;
}

/**
 * The sum over heads of per-head outputs plus an optional bias: result f32 [tokens, heads, N]
 * (as {@link headOutputs} makes, perhaps edited) → f32 [tokens, N], y[t,n] = Σ_h result[t,h,n] +
 * bias[n], bias f32 or f16 [N]. With the dense layer's bias this is the attention output.
 *
 * @example
 * ```ts
 * const perHead = headOutputs(z, denseWeight, { heads: 8 });
 * const ablated = editSelection(perHead, { op: 'zero', select: [null, [3]] }); // drop head 3
 * const attnOut = sumHeads(ablated, denseBias); // [tokens, hidden]
 * ```
 */
export function sumHeads(result: Tensor<'f32'>, bias?: Tensor<'f32' | 'f16'>): Tensor<'f32'> {
  checkDType('sumHeads', 'result', result, 'f32');
  const [tokens, heads, n] = result.shape;
  if (result.shape.length !== 3) {
    throw new ShapeError(
      `sumHeads: result must be [tokens, heads, N] (as headOutputs returns), got ${result.toString()}`,
    );
  }
  if (bias) {
    checkDType('sumHeads', 'bias', bias, 'f32', 'f16');
    checkSameDevice('sumHeads', result, bias);
    if (bias.size !== n) {
      throw new ShapeError(`sumHeads: bias must have ${n} elements, got ${bias.toString()}`);
    }
  }
  const device = result.device;
  const y = device.zeros([tokens!, n!], 'f32');
  if (y.size === 0) return y;
  device.dispatch({
    code: sumHeadsWgsl(bias && storageTypeOf(bias)),
    bindings: bias ? [result, bias, y] : [result, y],
    uniforms: new Uint32Array([y.size, heads!, n!]),
    workgroups: workgroupGrid(
      Math.ceil(y.size / 256),
      device.limits.maxComputeWorkgroupsPerDimension,
    ),
  });
  return y;
}
