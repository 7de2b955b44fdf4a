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
  /** For a view made by {@link reshape}: the tensor that owns the buffers. */
  readonly #base: Tensor | undefined;
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
    base?: Tensor,
  ) {
    this.device = device;
    this.#io = io;
    this.#chunks = chunks;
    this.#base = base;
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
    if (this.#base?.disposed) {
      throw new TensorDisposedError(
        `${this.#base.toString()}, which the view ${this.toString()} reshapes,`,
      );
    }
    return this.#chunks;
  }

  /** True once disposed; a {@link reshape} view is also disposed once the tensor it views is. */
  get disposed(): boolean {
    return this.#disposed || this.#base?.disposed === true;
  }

  /**
   * A view of the same elements, in the same row-major order, with another shape of the same
   * element count: it shares this tensor's GPU buffer(s), so nothing is copied, and kernels may
   * read it or write it (writes through the view change this tensor). One dimension may be -1,
   * meaning whatever the element count leaves.
   *
   * The view owns nothing: it is valid while the tensor that owns the buffers is alive (using it
   * after that tensor's disposal throws {@link TensorDisposedError}), and disposing the view only
   * marks the view itself disposed, leaving the original untouched. A view of a view shares the
   * same owner.
   *
   * @throws {ShapeError} the element counts differ, more than one dimension is -1, a dimension is
   *   not a non-negative integer, or the tensor is split into row chunks (see {@link chunks})
   *   whose boundaries do not fall on rows of the new first dimension.
   *
   * @example
   * ```ts
   * const z = device.zeros([tokens, heads * headDim]);
   * const perHead = z.reshape([tokens, heads, -1]); // [tokens, heads, headDim], same buffer
   * perHead.dispose(); // z stays readable
   * ```
   */
  reshape(shape: readonly number[]): Tensor<D> {
    const chunks = this.chunks;
    const resolved = this.#resolveShape(shape);
    const size = this.size;
    let viewChunks: TensorChunk[];
    if (chunks.length === 1) {
      const only = chunks[0]!;
      viewChunks = [{ buffer: only.buffer, firstRow: 0, rows: resolved[0] ?? 1, size }];
    } else {
      const rows = resolved[0];
      const rowElements = rows === undefined || rows === 0 ? 0 : size / rows;
      viewChunks = [];
      let start = 0;
      for (const chunk of chunks) {
        if (rowElements === 0 || start % rowElements !== 0 || chunk.size % rowElements !== 0) {
          throw new ShapeError(
            `cannot reshape ${this.toString()} to [${resolved.join(', ')}]: it is split into ` +
              `${chunks.length} row chunks (over the binding limit), and a view's first dimension ` +
              'must split at the same elements; keep the first dimension a divisor of the rows',
          );
        }
        viewChunks.push({
          buffer: chunk.buffer,
          firstRow: start / rowElements,
          rows: chunk.size / rowElements,
          size: chunk.size,
        });
        start += chunk.size;
      }
    }
    return new Tensor<D>(
      this.device,
      this.#io,
      viewChunks,
      resolved,
      this.dtype,
      this.#base ?? this,
    );
  }

  /** `shape` with its -1 (if any) replaced, checked against this tensor's element count. */
  #resolveShape(shape: readonly number[]): number[] {
    const wanted = `[${shape.join(', ')}]`;
    let inferred = -1;
    let known = 1;
    for (let i = 0; i < shape.length; i++) {
      const d = shape[i]!;
      if (d === -1 && inferred < 0) {
        inferred = i;
      } else if (d === -1) {
        throw new ShapeError(`reshape: ${wanted} has more than one -1; give all but one dimension`);
      } else if (!Number.isSafeInteger(d) || d < 0) {
        throw new ShapeError(
          `reshape: dimensions must be non-negative integers (or one -1), got ${wanted}`,
        );
      } else {
        known *= d;
      }
    }
    const resolved = [...shape];
    if (inferred >= 0) {
      if (known === 0 || this.size % known !== 0) {
        throw new ShapeError(
          `reshape: cannot infer the -1 of ${wanted} for ${this.toString()} (${this.size} ` +
            `elements): the other dimensions' product ${known} must divide it`,
        );
      }
      resolved[inferred] = this.size / known;
    } else if (known !== this.size) {
      throw new ShapeError(
        `reshape: ${this.toString()} has ${this.size} elements but ${wanted} has ${known}; ` +
          'the new shape must keep the element count',
      );
    }
    return resolved;
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
   * submitted. Idempotent; any later use throws {@link TensorDisposedError}. On a
   * {@link reshape} view it only ends the view: the buffers stay with the tensor it views.
   */
  dispose(): void {
    this.#end((buffer) => this.#io.release(buffer));
  }

  /**
   * Frees the GPU memory instead of keeping it in the device's pool for reuse: for long-lived
   * tensors such as a model's weights, whose sizes later work would not ask for again. Kernels
   * recorded before the call still see the values. Otherwise as {@link dispose}.
   *
   * @example
   * ```ts
   * const weight = device.tensor(values, [4096, 1024]);
   * // … a model's lifetime …
   * weight.destroy(); // the memory goes back to the driver, not to the pool
   * ```
   */
  destroy(): void {
    this.#end((buffer) => this.#io.destroy(buffer));
  }

  #end(free: (buffer: GPUBuffer) => void): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#base) return; // a view: the buffers are its base's
    for (const chunk of this.#chunks) free(chunk.buffer);
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
