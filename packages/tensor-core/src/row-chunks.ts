// The rules for laying a tensor out in GPU buffers: how many rows of its first dimension go in
// one buffer, and how many bytes a buffer of some elements takes. Pure arithmetic on shapes,
// apart from the device so the binding-limit and 4-byte rules can be read (and changed) together.
import { LimitExceededError } from './errors.js';

/**
 * Rows of the first dimension per buffer for a tensor of `shape` under `limit` bytes per buffer:
 * all of them when it fits, else as many whole rows as fit.
 *
 * @throws {LimitExceededError} the tensor does not fit and cannot be split (rank below 2, or one
 *   row alone is over the limit).
 */
export function rowsPerChunk(
  shape: readonly number[],
  size: number,
  bytesPerElement: number,
  limit: number,
): number {
  const rows = shape[0] ?? 1;
  if (size * bytesPerElement <= limit) return rows;
  const rowElements = rows === 0 ? 0 : size / rows;
  let perChunk = Math.floor(limit / (rowElements * bytesPerElement));
  // Chunks must start on a 4-byte boundary: an even number of odd-length f16 rows.
  if (bytesPerElement === 2 && rowElements % 2 === 1) perChunk &= ~1;
  if (shape.length < 2 || perChunk < 1) {
    throw new LimitExceededError(
      'maxStorageBufferBindingSize',
      Math.max(size, rowElements) * bytesPerElement,
      limit,
      `a tensor of shape [${shape.join(', ')}] can only be split by rows of its first dimension, and one row must fit`,
    );
  }
  return perChunk;
}

/** Bytes of a buffer holding `elements`: copies and mapped ranges work in 4-byte units. */
export function chunkByteLength(elements: number, bytesPerElement: number): number {
  // So odd-length f16 tensors get 2 bytes more, and empty ones still get a buffer.
  return Math.max(4, Math.ceil((elements * bytesPerElement) / 4) * 4);
}
