// Owns the one uniform buffer that every dispatch of a submit shares. Separate because its
// bookkeeping (CPU staging, slot alignment, the one write before each submit) is the same for
// every kernel and has nothing to do with what the kernel computes; one buffer instead of one per
// dispatch keeps a repeated step free of buffer creation.
import type { BufferPool } from './buffer-pool.js';
import { BufferUsage } from './gpu-constants.js';

/** Bytes of the ring; also the most one dispatch's uniforms may take. */
export const UNIFORM_RING_BYTES = 256 * 1024;

/** The bytes of the binding that uniforms of `byteLength` bytes occupy (WGSL's 16-byte rule). */
export function uniformSlotSize(byteLength: number): number {
  return Math.ceil(byteLength / 16) * 16;
}

/**
 * Uniforms are staged on the CPU in call order and written with one `writeBuffer` just before
 * the submit that uses them, so each submit sees its own values.
 */
export class UniformRing {
  readonly #pool: BufferPool;
  readonly #alignment: number;
  readonly #data = new Uint8Array(UNIFORM_RING_BYTES);
  // Views of the same bytes, so the usual uniform arrays copy in with one memcpy, no view made.
  readonly #u32 = new Uint32Array(this.#data.buffer);
  readonly #i32 = new Int32Array(this.#data.buffer);
  readonly #f32 = new Float32Array(this.#data.buffer);
  #buffer: GPUBuffer | undefined;
  #used = 0;

  constructor(pool: BufferPool, alignment: number) {
    this.#pool = pool;
    this.#alignment = alignment;
  }

  /** True when uniforms of `byteLength` bytes no longer fit before the next submit. */
  full(byteLength: number): boolean {
    return this.#used + uniformSlotSize(byteLength) > UNIFORM_RING_BYTES;
  }

  /** Stages `uniforms` in the next aligned slot and returns its offset (check `full` first). */
  stage(uniforms: ArrayBufferView): number {
    const offset = this.#used;
    // Slots start at multiples of the offset alignment (≥ 4), so typed views index them exactly.
    if (uniforms instanceof Uint32Array) this.#u32.set(uniforms, offset >>> 2);
    else if (uniforms instanceof Float32Array) this.#f32.set(uniforms, offset >>> 2);
    else if (uniforms instanceof Int32Array) this.#i32.set(uniforms, offset >>> 2);
    else if (uniforms instanceof Uint8Array) this.#data.set(uniforms, offset);
    else {
      this.#data.set(
        new Uint8Array(uniforms.buffer, uniforms.byteOffset, uniforms.byteLength),
        offset,
      );
    }
    const end = offset + uniformSlotSize(uniforms.byteLength);
    this.#used = Math.ceil(end / this.#alignment) * this.#alignment;
    return offset;
  }

  /** The GPU buffer, created on first use. */
  get buffer(): GPUBuffer {
    this.#buffer ??= this.#pool.create(
      UNIFORM_RING_BYTES,
      BufferUsage.UNIFORM | BufferUsage.COPY_DST,
    );
    return this.#buffer;
  }

  /** Writes the staged uniforms, ahead of the submit that reads them, and empties the ring. */
  upload(queue: GPUQueue): void {
    if (this.#used > 0 && this.#buffer) {
      queue.writeBuffer(this.#buffer, 0, this.#data, 0, this.#used);
    }
    this.#used = 0;
  }
}
