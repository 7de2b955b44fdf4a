import { ShapeError, TensorCoreError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import { DEQUANTIZE_WORKGROUP, dequantizeWgsl } from '../kernels/dequantize.js';
import type { QuantizedTensor } from '../quantized.js';
import { Tensor } from '../tensor.js';
import { checkDType } from './checks.js';

/**
 * Dequantizes `q` on the GPU to f32 `[N, K]`, or, given `rows` (a u32 list of row indices, on
 * the CPU or the GPU), only those rows: f32 `[rows.length, K]`, row r = W[rows[r]] (for gathers
 * such as unembedding rows in direct logit attribution). The values are exactly
 * `quantizeReference(…).dequantized`: q·d is exact in f32.
 *
 * Indices on the CPU must be below N; indices in a tensor are not checked, and those out of range
 * give rows of zeros. The result must fit one binding (see `LimitExceededError`).
 *
 * @example
 * ```ts
 * const w = quantize(device, weights, [vocab, hidden], 'q4');
 * const rows = dequantize(w, new Uint32Array([tokenA, tokenB])); // f32 [2, hidden]
 * ```
 */
export function dequantize(q: QuantizedTensor, rows?: Uint32Array | Tensor<'u32'>): Tensor<'f32'> {
  const chunks = q.chunks;
  const device = q.device;
  const [n, k] = q.shape;
  const quads = k / 4;
  if (rows === undefined) {
    const y = device.empty([n, k], 'f32');
    for (const chunk of chunks) {
      device.dispatch({
        code: dequantizeWgsl(q.format, false),
        bindings: [chunk.tensor, y],
        uniforms: new Uint32Array([chunk.rows, k, chunk.rows, chunk.firstRow]),
        workgroups: grid(chunk.rows * quads, device.limits.maxComputeWorkgroupsPerDimension),
      });
    }
    return y;
  }
  let indices: Tensor<'u32'>;
  if (rows instanceof Tensor) {
    checkDType('dequantize', 'rows', rows, 'u32');
    if (rows.device !== device) {
      throw new TensorCoreError('dequantize: rows live on another device than the matrix');
    }
    indices = rows;
  } else {
    if (!(rows instanceof Uint32Array)) {
      throw new ShapeError('dequantize: rows must be a Uint32Array or a u32 tensor');
    }
    const bad = rows.findIndex((r) => r >= n);
    if (bad >= 0) {
      throw new ShapeError(
        `dequantize: row index ${rows[bad]} (at ${bad}) is out of range for ${q.toString()}`,
      );
    }
    indices = device.tensor(rows);
  }
  const count = indices.size;
  const y = device.zeros([count, k], 'f32');
  if (count > 0) {
    for (const chunk of chunks) {
      device.dispatch({
        code: dequantizeWgsl(q.format, true),
        bindings: [chunk.tensor, indices, y],
        uniforms: new Uint32Array([chunk.rows, k, count, chunk.firstRow]),
        workgroups: grid(count * quads, device.limits.maxComputeWorkgroupsPerDimension),
      });
    }
  }
  if (indices !== rows) indices.dispose();
  return y;
}

function grid(units: number, maxPerDimension: number): [number, number] {
  return workgroupGrid(Math.ceil(units / DEQUANTIZE_WORKGROUP), maxPerDimension);
}
