import { isCpuAdapter } from '../adapter-kind.js';
import type { Device } from '../device.js';
import { ShapeError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import {
  GEMM_TILE,
  GEMM_TILE_INVOCATIONS,
  GEMM_TILE_STORAGE_BYTES,
  gemmWgsl,
} from '../kernels/gemm.js';
import { type GemmLanesTile, gemmLanesGrid, gemmLanesWgsl } from '../kernels/gemm-lanes.js';
import { GEMV_SUBGROUP_ROWS, gemvScalarWgsl, gemvSubgroupWgsl, gemvWgsl } from '../kernels/gemv.js';
import type { Activation, LinearVariant } from '../kernels/linear.js';
import { QUANT_GEMV_ROWS, quantGemvWgsl } from '../kernels/quant-gemv.js';
import { QuantizedTensor } from '../quantized.js';
import type { Tensor } from '../tensor.js';
import { checkDType, checkSameDevice, checkSameShape, rowsAndColumns } from './checks.js';
import { storageTypeOf } from './storage-type.js';

export { isCpuAdapter };

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
 * subgroups of a known size), more rows a GEMM chosen for the adapter (see {@link gemmPlan}). f16
 * weights are widened exactly and accumulated in f32.
 *
 * W may also be a {@link QuantizedTensor} (q8/q4, blocks of 32 along K with f16 scales): the
 * result is that of the f32 matmul with its dequantized values, accumulated in f32. One row runs
 * a quantized GEMV (16 bytes of packed weights per row per step, reduced per subgroup where the
 * device has subgroups of a known size), more rows the same GEMM as for other weights (see
 * {@link gemmPlan}), with each weight dequantized as it is loaded.
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
  weight: Tensor<'f32' | 'f16'> | QuantizedTensor,
  bias?: Tensor<'f32' | 'f16'>,
  options: MatmulOptions = {},
): Tensor<'f32'> {
  checkDType('matmul', 'x', x, 'f32');
  const quantized = weight instanceof QuantizedTensor;
  if (!quantized) checkDType('matmul', 'weight', weight, 'f32', 'f16');
  const [m, k] = rowsAndColumns('matmul', x);
  const [n, wk] = weight.shape;
  if (weight.shape.length !== 2 || wk !== k || n === undefined) {
    throw new ShapeError(
      `matmul: weight must be [N, ${k}] for x ${x.toString()}, got ${weight.toString()}`,
    );
  }
  // A disposed quantized weight throws here (its chunks), before anything is allocated.
  checkSameDevice('matmul', x, quantized ? weight.chunks[0]!.tensor : weight);
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
    weight: quantized ? 'f32' : storageTypeOf(weight),
    bias: bias && storageTypeOf(bias),
    residual: residual !== undefined,
    activation,
  };
  if (quantized) variant.quant = weight.format;
  const gemv = m === 1;
  const plan = gemv ? undefined : gemmPlan(device, m, k);
  let code = plan?.kernel === 'lanes' ? gemmLanesWgsl(variant, plan.tile) : gemmWgsl(variant);
  let rowsPerWorkgroup = 1;
  if (gemv) {
    const subgroupSize = device.features.subgroupSize;
    const subgroups = subgroupSize !== undefined && subgroupSize <= 64 && 64 % subgroupSize === 0;
    if (quantized) {
      code = quantGemvWgsl({ ...variant, quant: weight.format }, subgroups);
      rowsPerWorkgroup = subgroups ? (64 / subgroupSize!) * QUANT_GEMV_ROWS : QUANT_GEMV_ROWS;
    } else if (k % 8 !== 0) {
      code = gemvScalarWgsl(variant);
    } else if (subgroupSize && subgroupSize <= 64 && 64 % subgroupSize === 0) {
      code = gemvSubgroupWgsl(variant);
      rowsPerWorkgroup = (64 / subgroupSize) * GEMV_SUBGROUP_ROWS;
    } else {
      code = gemvWgsl(variant);
      rowsPerWorkgroup = 4;
    }
  }
  const chunks = quantized
    ? weight.chunks.map((c) => ({ buffer: c.tensor.buffer, firstRow: c.firstRow, rows: c.rows }))
    : weight.chunks;
  for (const chunk of chunks) {
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
        : plan?.kernel === 'lanes'
          ? gemmLanesGrid(plan.tile, m, chunk.rows)
          : [Math.ceil(chunk.rows / GEMM_TILE), Math.ceil(m / GEMM_TILE)],
    });
  }
  return y;
}

/** Which GEMM kernel {@link matmul} runs for M > 1 rows, and its tile. */
export type GemmPlan =
  | { readonly kernel: 'tiled' }
  | { readonly kernel: 'lanes'; readonly tile: GemmLanesTile };

/**
 * The GEMM for an [M, K]·[N, K]ᵀ product on `device` (M > 1), by this rule:
 *
 * - GPUs: `tiled` ({@link gemmWgsl}): 64×64 tiles of y staged through workgroup memory, 256
 *   invocations of 4×4 outputs. On a GPU, loads of consecutive invocations coalesce and workgroup
 *   memory and barriers are cheap, so staging tiles that 16 invocations share is what saves
 *   bandwidth. Its 256 invocations and 8 KiB of workgroup memory are within WebGPU's guaranteed
 *   limits (256 and 16 KiB); a device that reports less (compatibility mode allows 128
 *   invocations) gets `lanes`, which needs no workgroup memory and 16 invocations (for K % 4 ≠ 0
 *   `tiled` is the only kernel, there too).
 * - CPU adapters ({@link isCpuAdapter}) when K % 4 = 0: `lanes` ({@link gemmLanesWgsl}), a
 *   16×8 block of y per invocation in registers, no workgroup memory. There a workgroup runs on
 *   one CPU thread with the invocations as SIMD lanes, and every storage load is a loop over the
 *   lanes whatever the addresses (workgroup memory is slower still, ~10× per load on lavapipe,
 *   and barriers switch coroutines), so what counts is loading each input element once per large
 *   register block, with a loop body small enough for the instruction cache: 16×8 per invocation
 *   beat 8×8, 12×8, 16×12 (10–20%) and 32×8 (15%) on lavapipe, and 32×8 on SwiftShader.
 *   Measured 7–10× the tiled kernel on lavapipe, ~4× on SwiftShader. x is spread over a subgroup
 *   and passed on with `subgroupShuffle` where the device has subgroups of a fixed size; without,
 *   every invocation loads all of x and 4×8 blocks do best (half the speed of the subgroup
 *   kernel on lavapipe, still ~4.5× the tiled one). 16 invocations per workgroup, at least one
 *   subgroup: they share nothing, and more, smaller workgroups spread better over the CPU
 *   threads. Blocks of 8 or 4 rows for M ≤ 8, so that few rows waste less.
 *
 * `lanes` reads f16 weights as packed halves even where the device has shader-f16: f16
 * arithmetic only adds conversions on a CPU (5× slower on lavapipe), and widening through the f16
 * type instead of unpack2x16float gained nothing.
 */
export function gemmPlan(device: Device, m: number, k: number): GemmPlan {
  const { limits, features } = device;
  const tiledFits =
    limits.maxComputeInvocationsPerWorkgroup >= GEMM_TILE_INVOCATIONS &&
    limits.maxComputeWorkgroupStorageSize >= GEMM_TILE_STORAGE_BYTES;
  if (k % 4 !== 0 || (tiledFits && !isCpuAdapter(device.adapterInfo))) return { kernel: 'tiled' };
  const subgroupSize = features.subgroupSize;
  const shuffle =
    features.subgroups &&
    subgroupSize !== undefined &&
    subgroupSize <= limits.maxComputeInvocationsPerWorkgroup;
  const lanes = shuffle ? subgroupSize : 8;
  const invocations = lanes * Math.max(1, Math.floor(16 / lanes));
  const rows = !shuffle || m <= 4 ? 4 : m <= 8 ? 8 : 16;
  return { kernel: 'lanes', tile: { rows, columns: 8, invocations, lanes, shuffle } };
}
