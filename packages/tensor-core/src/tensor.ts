import type { Device } from './device.js';
import {
  BYTES_PER_ELEMENT,
  type DType,
  dtypeOf,
  type TypedArrayFor,
  typedArrayOf,
} from './dtype.js';
import { ShapeError, TensorDisposedError } from './errors.js';

/**
 * A dense row-major array in a GPU buffer. f16 tensors hold 2 bytes per element on every
 * adapter. Create tensors with `device.zeros` or `device.tensor`.
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
  #buffer: GPUBuffer;
  #disposed = false;

  /** @internal Use `device.zeros` or `device.tensor`. */
  constructor(device: Device, buffer: GPUBuffer, shape: readonly number[], dtype: D) {
    this.device = device;
    this.#buffer = buffer;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = shape.reduce((a, b) => a * b, 1);
  }

  /** Bytes of data, without the padding of odd-length f16 tensors. */
  get byteLength(): number {
    return this.size * BYTES_PER_ELEMENT[this.dtype];
  }

  /** The GPU buffer (its size is `byteLength` rounded up to 4 bytes). */
  get buffer(): GPUBuffer {
    if (this.#disposed) throw new TensorDisposedError(this.toString());
    return this.#buffer;
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
    const buffer = this.buffer;
    if (dtypeOf(data) !== this.dtype) {
      throw new ShapeError(`cannot write ${dtypeOf(data)} data into a ${this.dtype} tensor`);
    }
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + data.length > this.size) {
      throw new ShapeError(
        `writing ${data.length} elements at ${offset} overruns ${this.toString()} (${this.size} elements)`,
      );
    }
    let bytes: ArrayBufferView = data;
    if (this.dtype === 'f16') {
      const endsTensor = offset + data.length === this.size;
      if (offset % 2 !== 0 || (data.length % 2 !== 0 && !endsTensor)) {
        throw new ShapeError(
          `f16 writes must start at an even element and have an even length unless they end the ` +
            `tensor (got offset ${offset}, length ${data.length}); choose even chunk sizes`,
        );
      }
      if (data.length % 2 !== 0) {
        // The last word's second half is padding; fill it with zeros.
        const padded = new Uint16Array(data.length + 1);
        padded.set(data as Uint16Array);
        bytes = padded;
      }
    }
    return this.device.writeBuffer(buffer, offset * BYTES_PER_ELEMENT[this.dtype], bytes);
  }

  /**
   * The tensor's contents, after all earlier work on the device has run: a Float32Array for
   * f32, Uint16Array bit patterns for f16 (see `f16BitsToF32Array`), Uint32Array, Int32Array.
   */
  async read(): Promise<TypedArrayFor<D>> {
    const bytes = await this.device.readBuffer(this.buffer, this.byteLength);
    return typedArrayOf(this.dtype, bytes, this.size);
  }

  /**
   * Frees the GPU buffer once work already recorded on it has been submitted. Idempotent; any
   * later use throws {@link TensorDisposedError}.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.device.releaseBuffer(this.#buffer);
  }

  toString(): string {
    return `Tensor<${this.dtype}>[${this.shape.join(', ')}]`;
  }
}
