import type { BufferIO } from './buffer-io.js';
import type { Device } from './device.js';
import {
  BYTES_PER_ELEMENT,
  type DType,
  dtypeOf,
  type TypedArrayFor,
  typedArrayOf,
} from './dtype.js';
import { LimitExceededError, ShapeError, TensorDisposedError } from './errors.js';

/**
 * One GPU buffer of a tensor: rows `[firstRow, firstRow + rows)` of its first dimension.
 * A tensor larger than the device's binding limit is stored as several chunks of whole rows.
 */
export interface TensorChunk {
  readonly buffer: GPUBuffer;
  readonly firstRow: number;
  readonly rows: number;
  /** Elements in this chunk. */
  readonly size: number;
}

// Set once, by Tensor's static block: the only way to call its private constructor.
let construct: <D extends DType>(
  device: Device,
  io: BufferIO,
  chunks: readonly TensorChunk[],
  shape: readonly number[],
  dtype: D,
) => Tensor<D>;

/**
 * A dense row-major array in GPU memory. f16 tensors hold 2 bytes per element on every
 * adapter. Create tensors with `device.zeros`, `device.empty` or `device.tensor`.
 *
 * A tensor above the device's `maxStorageBufferBindingSize` (e.g. pythia-1.4b's 206 MB
 * unembedding) is split by rows into several buffers ({@link Tensor.chunks}); `matmul` weights
 * and `embedding` tables may be split, other ops need single-buffer tensors.
 *
 * @example
 * ```ts
 * const t = device.tensor(new Float32Array([1, 2, 3]));
 * await t.write(1, new Float32Array([20]));
 * console.log(await t.read()); // Float32Array [1, 20, 3]
 * t.dispose();
 * ```
 */
export class Tensor<D extends DType = DType> {
  readonly device: Device;
  readonly shape: readonly number[];
  readonly dtype: D;
  /** Number of elements. */
  readonly size: number;
  readonly #io: BufferIO;
  readonly #chunks: readonly TensorChunk[];
  #disposed = false;

  static {
    construct = (device, io, chunks, shape, dtype) => new Tensor(device, io, chunks, shape, dtype);
  }

  // Private, so the published types offer no way to make a tensor but the device's methods.
  private constructor(
    device: Device,
    io: BufferIO,
    chunks: readonly TensorChunk[],
    shape: readonly number[],
    dtype: D,
  ) {
    this.device = device;
    this.#io = io;
    this.#chunks = chunks;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = shape.reduce((a, b) => a * b, 1);
  }

  /** Bytes of data, without the padding of odd-length f16 tensors. */
  get byteLength(): number {
    return this.size * BYTES_PER_ELEMENT[this.dtype];
  }

  /**
   * The GPU buffer (its size is `byteLength` rounded up to 4 bytes).
   *
   * @throws {LimitExceededError} the tensor is split into several buffers; use {@link chunks}.
   */
  get buffer(): GPUBuffer {
    const chunks = this.chunks;
    if (chunks.length !== 1) {
      throw new LimitExceededError(
        'maxStorageBufferBindingSize',
        this.byteLength,
        this.device.limits.maxStorageBufferBindingSize,
        `${this.toString()} is split into ${chunks.length} row chunks; only matmul weights and embedding tables may be that large`,
      );
    }
    return chunks[0]!.buffer;
  }

  /** The buffers holding the tensor, in row order (one unless it exceeds the binding limit). */
  get chunks(): readonly TensorChunk[] {
    if (this.#disposed) throw new TensorDisposedError(this.toString());
    return this.#chunks;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Overwrites elements `[offset, offset + data.length)`, after all earlier work on the device;
   * for uploading weights chunk by chunk. f16 chunks must start at an even element and have an
   * even length unless they end the tensor (the GPU copies whole 4-byte words).
   *
   * Do not modify `data` before the returned promise resolves.
   */
  write(offset: number, data: TypedArrayFor<D>): Promise<void> {
    const chunks = this.chunks;
    if (dtypeOf(data) !== this.dtype) {
      throw new ShapeError(`cannot write ${dtypeOf(data)} data into a ${this.dtype} tensor`);
    }
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + data.length > this.size) {
      throw new ShapeError(
        `writing ${data.length} elements at ${offset} overruns ${this.toString()} (${this.size} elements)`,
      );
    }
    if (this.dtype === 'f16') {
      const endsTensor = offset + data.length === this.size;
      if (offset % 2 !== 0 || (data.length % 2 !== 0 && !endsTensor)) {
        throw new ShapeError(
          `f16 writes must start at an even element and have an even length unless they end the ` +
            `tensor (got offset ${offset}, length ${data.length}); choose even chunk sizes`,
        );
      }
    }
    const bytesPerElement = BYTES_PER_ELEMENT[this.dtype];
    const writes: Promise<void>[] = [];
    let chunkStart = 0;
    for (const chunk of chunks) {
      const from = Math.max(offset, chunkStart);
      const to = Math.min(offset + data.length, chunkStart + chunk.size);
      if (from < to) {
        let bytes: ArrayBufferView = data.subarray(from - offset, to - offset);
        if ((bytes.byteLength & 3) !== 0) {
          // An odd-length f16 tail: the last word's second half is padding; fill it with zeros.
          const padded = new Uint8Array(bytes.byteLength + 2);
          padded.set(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
          bytes = padded;
        }
        writes.push(this.#io.write(chunk.buffer, (from - chunkStart) * bytesPerElement, bytes));
      }
      chunkStart += chunk.size;
    }
    return Promise.all(writes).then(() => undefined);
  }

  /**
   * The tensor's contents, after all earlier work on the device has run: a Float32Array for
   * f32, Uint16Array bit patterns for f16 (see `f16BitsToF32Array`), Uint32Array, Int32Array.
   */
  async read(): Promise<TypedArrayFor<D>> {
    const chunks = this.chunks;
    const bytesPerElement = BYTES_PER_ELEMENT[this.dtype];
    if (chunks.length === 1) {
      const bytes = await this.#io.read(chunks[0]!.buffer, this.byteLength);
      return typedArrayOf(this.dtype, bytes, this.size);
    }
    const parts = await Promise.all(
      chunks.map((c) => this.#io.read(c.buffer, c.size * bytesPerElement)),
    );
    const all = new Uint8Array(this.byteLength);
    let at = 0;
    for (const part of parts) {
      all.set(new Uint8Array(part), at);
      at += part.byteLength;
    }
    return typedArrayOf(this.dtype, all.buffer, this.size);
  }

  /**
   * Returns the GPU memory to the device's pool once work already recorded on it has been
   * submitted. Idempotent; any later use throws {@link TensorDisposedError}.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const chunk of this.#chunks) this.#io.release(chunk.buffer);
  }

  toString(): string {
    return `Tensor<${this.dtype}>[${this.shape.join(', ')}]`;
  }
}

/**
 * A tensor over buffers a device allocated, moving its bytes through the device's `io`. For
 * `Device` only; the package does not export it.
 *
 * @internal
 */
export function newTensor<D extends DType>(
  device: Device,
  io: BufferIO,
  chunks: readonly TensorChunk[],
  shape: readonly number[],
  dtype: D,
): Tensor<D> {
  return construct(device, io, chunks, shape, dtype);
}
