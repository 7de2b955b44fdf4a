import type { TensorDtype } from './tensor-entry.js';

/** A tensor's values: F16 and BF16 stay as their 16-bit patterns, ready for a GPU upload. */
export type TensorData =
  | Float32Array
  | Float64Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

const VIEWS = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
} as const;

/**
 * Views little-endian tensor bytes as the matching typed array. The bytes are viewed in place
 * when they are aligned for the element size, and copied once when they are not (safetensors and
 * ZIP entries need not be aligned within a file).
 */
export function tensorData(dtype: TensorDtype, bytes: Uint8Array): TensorData {
  const View = VIEWS[dtype];
  const size = View.BYTES_PER_ELEMENT;
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  return new View(aligned.buffer as ArrayBuffer, aligned.byteOffset, aligned.byteLength / size);
}
