/**
 * What a tensor needs from its device to move and free its bytes, on the device's one timeline.
 *
 * The device hands each tensor it makes a private object of this type, so these operations on
 * raw buffers are not methods of the public `Device` (nor in its published types). Not exported
 * from the package.
 */
export interface BufferIO {
  /** Copies `byteLength` bytes of `buffer` to the CPU after all earlier work. */
  read(buffer: GPUBuffer, byteLength: number): Promise<ArrayBuffer>;
  /** Writes `data` at `byteOffset` of `buffer` after all earlier work. */
  write(buffer: GPUBuffer, byteOffset: number, data: ArrayBufferView): Promise<void>;
  /** Returns `buffer` to the device's pool; kernels recorded before this call still see it. */
  release(buffer: GPUBuffer): void;
  /** Frees `buffer` instead of pooling it, once the kernels recorded before this call are submitted. */
  destroy(buffer: GPUBuffer): void;
}
