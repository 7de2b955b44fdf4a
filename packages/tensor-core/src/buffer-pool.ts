// Owns every GPU buffer a device creates and the free ones it keeps for reuse. Separate from
// `Device` so that the accounting behind `Device.stats` (created, allocated, reused, pooled bytes)
// changes in one place whoever needs a buffer: tensors, read-back, the uniform ring, profiling.
import type { DeviceStats } from './device.js';
import { LimitExceededError } from './errors.js';
import { BufferUsage } from './gpu-constants.js';

type PoolStats = Pick<
  DeviceStats,
  'buffersCreated' | 'bytesAllocated' | 'buffersReused' | 'pooledBytes'
>;

/**
 * Free buffers keyed by exact byte size: a repeated step asks for the same sizes, so exact
 * matches make it allocation-free after its first run without wasting memory on rounding.
 */
export class BufferPool {
  readonly #gpuDevice: GPUDevice;
  readonly #stats: PoolStats;
  readonly #maxBufferSize: number;
  // Storage buffers back tensors; staging buffers (MAP_READ) carry read-backs.
  readonly #storage = new Map<number, GPUBuffer[]>();
  readonly #staging = new Map<number, GPUBuffer[]>();

  constructor(gpuDevice: GPUDevice, stats: PoolStats, maxBufferSize: number) {
    this.#gpuDevice = gpuDevice;
    this.#stats = stats;
    this.#maxBufferSize = maxBufferSize;
  }

  /**
   * A free storage buffer of exactly `byteLength` bytes, or undefined: the caller creates one
   * itself, since a new buffer may be mapped at creation and a reused one needs clearing.
   */
  takeStorage(byteLength: number): GPUBuffer | undefined {
    return this.#take(this.#storage, byteLength);
  }

  /** A new storage buffer for tensors. */
  createStorage(byteLength: number, mappedAtCreation: boolean): GPUBuffer {
    return this.create(
      byteLength,
      BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST,
      mappedAtCreation,
    );
  }

  giveStorage(buffer: GPUBuffer): void {
    this.#give(this.#storage, buffer);
  }

  /** A read-back buffer of `byteLength` bytes, pooled or new. */
  takeStaging(byteLength: number): GPUBuffer {
    return (
      this.#take(this.#staging, byteLength) ??
      this.create(byteLength, BufferUsage.MAP_READ | BufferUsage.COPY_DST)
    );
  }

  /** Takes back an unmapped staging buffer. */
  giveStaging(buffer: GPUBuffer): void {
    this.#give(this.#staging, buffer);
  }

  /** A new buffer, counted in the stats; throws past `maxBufferSize`. */
  create(size: number, usage: number, mappedAtCreation = false): GPUBuffer {
    if (size > this.#maxBufferSize) {
      throw new LimitExceededError('maxBufferSize', size, this.#maxBufferSize);
    }
    this.#stats.buffersCreated++;
    this.#stats.bytesAllocated += size;
    return this.#gpuDevice.createBuffer({ size, usage, mappedAtCreation });
  }

  destroy(buffer: GPUBuffer): void {
    this.#stats.bytesAllocated -= buffer.size;
    buffer.destroy();
  }

  /** Empties the pool, handing back every free buffer (for the caller to destroy). */
  takeAll(): GPUBuffer[] {
    const all: GPUBuffer[] = [];
    for (const pool of [this.#storage, this.#staging]) {
      for (const buffers of pool.values()) all.push(...buffers);
      pool.clear();
    }
    this.#stats.pooledBytes = 0;
    return all;
  }

  #take(pool: Map<number, GPUBuffer[]>, byteLength: number): GPUBuffer | undefined {
    const buffer = pool.get(byteLength)?.pop();
    if (buffer) {
      this.#stats.buffersReused++;
      this.#stats.pooledBytes -= byteLength;
    }
    return buffer;
  }

  #give(pool: Map<number, GPUBuffer[]>, buffer: GPUBuffer): void {
    let list = pool.get(buffer.size);
    if (!list) {
      list = [];
      pool.set(buffer.size, list);
    }
    list.push(buffer);
    this.#stats.pooledBytes += buffer.size;
  }
}
