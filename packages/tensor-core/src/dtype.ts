import { ShapeError } from './errors.js';

/**
 * Element types a tensor can hold. `f16` is always 2 bytes per element on the GPU; on adapters
 * without `shader-f16` the kernels read it as packed pairs of a `u32` (same bytes, same layout).
 */
export type DType = 'f32' | 'f16' | 'u32' | 'i32';

/** The typed array that carries each dtype's data on the CPU; `f16` travels as raw bit patterns. */
export interface DTypeArrays {
  f32: Float32Array;
  f16: Uint16Array;
  u32: Uint32Array;
  i32: Int32Array;
}

/** The CPU typed array of dtype `D`. */
export type TypedArrayFor<D extends DType> = DTypeArrays[D];

/** Any typed array a tensor can be uploaded from. */
export type TensorData = DTypeArrays[DType];

/** The dtype a typed array type uploads as (see {@link dtypeOf}). */
export type DTypeOfArray<A extends TensorData> = A extends Float32Array
  ? 'f32'
  : A extends Uint16Array
    ? 'f16'
    : A extends Uint32Array
      ? 'u32'
      : 'i32';

/** Bytes per element of each dtype. */
export const BYTES_PER_ELEMENT: Readonly<Record<DType, number>> = {
  f32: 4,
  f16: 2,
  u32: 4,
  i32: 4,
};

/**
 * The dtype a typed array uploads as. Uint16Array is f16 bit patterns because f16 is the only
 * 2-byte dtype, so no caller has to spell it out.
 */
export function dtypeOf(data: TensorData): DType {
  if (data instanceof Float32Array) return 'f32';
  if (data instanceof Uint16Array) return 'f16';
  if (data instanceof Uint32Array) return 'u32';
  if (data instanceof Int32Array) return 'i32';
  throw new ShapeError(
    'tensor data must be a Float32Array, Uint16Array (f16 bits), Uint32Array or Int32Array',
  );
}

/** A typed array of `dtype` viewing the first `length` elements of `buffer`. */
export function typedArrayOf<D extends DType>(
  dtype: D,
  buffer: ArrayBuffer,
  length: number,
): TypedArrayFor<D> {
  switch (dtype) {
    case 'f32':
      return new Float32Array(buffer, 0, length) as TypedArrayFor<D>;
    case 'f16':
      return new Uint16Array(buffer, 0, length) as TypedArrayFor<D>;
    case 'u32':
      return new Uint32Array(buffer, 0, length) as TypedArrayFor<D>;
    default:
      return new Int32Array(buffer, 0, length) as TypedArrayFor<D>;
  }
}

/** Number of elements of a shape; validates that every dimension is a non-negative integer. */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new ShapeError(`shape [${shape.join(', ')}] has a dimension that is not a size`);
    }
    n *= d;
  }
  return n;
}
