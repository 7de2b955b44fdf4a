// Checkpoint wrappers for bench/quantized.ts: one that holds what it read, and one that injects
// outlier input channels into every block matrix.
import { type Checkpoint, tensorRange } from '@pythiajs/checkpoint-hub';
import { f16BitsToF32, f32ToF16Bits } from '@pythiajs/tensor-core';

// Outlier input channels of a matrix with rows of k weights, and their factors.
export const OUTLIER_SCALES = [20, 30, 40, 50];
export const outlierChannels = (k: number) =>
  [0.1, 0.35, 0.6, 0.85].map((f) => Math.floor(f * k) + 3);

/**
 * A checkpoint whose tensors are read once from `inner` and then held: loading the same random
 * weights in three dtypes generates them once.
 */
export function held(inner: Checkpoint): Checkpoint {
  const tensors = new Map<string, Uint8Array>();
  return {
    ...inner,
    read: async (name, into, range) => {
      let bytes = tensors.get(name);
      if (!bytes) {
        bytes = await inner.read(name);
        tensors.set(name, bytes);
      }
      const { offset, length } = tensorRange(name, bytes.length, range);
      const view = bytes.subarray(offset, offset + length);
      if (!into) return view.slice();
      into.set(view);
      return into.subarray(0, length);
    },
  };
}

/**
 * `inner` with outlier input channels: in every block matrix `[N, K]`, the columns
 * `outlierChannels(K)` (the same residual dimensions in every layer) scaled by `OUTLIER_SCALES`.
 * Honours byte ranges: element e of the range's tensor is in column e mod K.
 */
export function withOutliers(inner: Checkpoint): Checkpoint {
  return {
    ...inner,
    revision: `${inner.revision}-outliers`,
    read: async (name, into, range) => {
      const bytes = await inner.read(name, into, range);
      const entry = inner.tensors.get(name)!;
      if (!name.startsWith('gpt_neox.layers.') || entry.shape.length !== 2) return bytes;
      if (entry.dtype !== 'F16' && entry.dtype !== 'F32')
        throw new Error(`outliers: ${name} is ${entry.dtype}; use an F16 or F32 checkpoint`);
      const k = entry.shape[1]!;
      const size = entry.dtype === 'F16' ? 2 : 4;
      const first = (range?.offset ?? 0) / size;
      const count = bytes.length / size;
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      outlierChannels(k).forEach((column, j) => {
        const factor = OUTLIER_SCALES[j]!;
        for (let i = (((column - first) % k) + k) % k; i < count; i += k) {
          if (size === 2)
            view.setUint16(
              2 * i,
              f32ToF16Bits(f16BitsToF32(view.getUint16(2 * i, true)) * factor),
              true,
            );
          else view.setFloat32(4 * i, view.getFloat32(4 * i, true) * factor, true);
        }
      });
      return bytes;
    },
  };
}
