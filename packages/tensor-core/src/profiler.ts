// Owns kernel timing: the timestamp query set, the labels of the passes timed in the current
// submit, and the read-backs of earlier submits' timings. Separate because it is off unless asked
// for, and its state must not leak into the recording path beyond one check per dispatch.
import type { BufferPool } from './buffer-pool.js';
import type { KernelTiming } from './device.js';
import { BufferUsage, MapMode } from './gpu-constants.js';

// Compute passes timed per submit (two timestamps each); a full set forces a submit.
export const PROFILE_PASSES = 512;

/**
 * Each timed dispatch is one compute pass with a begin and an end timestamp; at submit the query
 * set is resolved and copied to a staging buffer whose read-back is kept for `collect`.
 */
export class Profiler {
  readonly #gpuDevice: GPUDevice;
  readonly #pool: BufferPool;
  #active = false;
  #querySet: GPUQuerySet | undefined;
  #resolveBuffer: GPUBuffer | undefined;
  #labels: string[] = [];
  #reads: Promise<KernelTiming[]>[] = [];
  // Resolved into by `encodeResolve`, read once the submit that fills it is on the queue.
  #pendingStaging: GPUBuffer | undefined;
  #pendingLabels: string[] = [];

  constructor(gpuDevice: GPUDevice, pool: BufferPool) {
    this.#gpuDevice = gpuDevice;
    this.#pool = pool;
  }

  /** Whether dispatches recorded now are timed. */
  get active(): boolean {
    return this.#active;
  }

  /** True when this submit has no query slots left: submit before timing another pass. */
  get full(): boolean {
    return this.#labels.length === PROFILE_PASSES;
  }

  /** Times every later pass; call on the device's timeline, after submitting untimed work. */
  start(): void {
    this.#querySet ??= this.#gpuDevice.createQuerySet({
      type: 'timestamp',
      count: 2 * PROFILE_PASSES,
    });
    this.#resolveBuffer ??= this.#pool.create(
      16 * PROFILE_PASSES,
      BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC,
    );
    this.#active = true;
  }

  stop(): void {
    this.#active = false;
  }

  /** The timestamp writes of the next timed pass, named `label` (check `full` first). */
  timestampWrites(label: string): GPUComputePassTimestampWrites {
    const index = this.#labels.length;
    this.#labels.push(label);
    return {
      querySet: this.#querySet!,
      beginningOfPassWriteIndex: 2 * index,
      endOfPassWriteIndex: 2 * index + 1,
    };
  }

  /** Encodes the copy of this submit's timestamps into a staging buffer, if any were taken. */
  encodeResolve(encoder: GPUCommandEncoder): void {
    // A submit that threw never reached `submitted`: its copy never ran, so it is not read.
    this.#pendingStaging = undefined;
    if (this.#labels.length === 0) return;
    const labels = this.#labels;
    this.#labels = [];
    const bytes = 16 * labels.length;
    const staging = this.#pool.takeStaging(bytes);
    encoder.resolveQuerySet(this.#querySet!, 0, 2 * labels.length, this.#resolveBuffer!, 0);
    encoder.copyBufferToBuffer(this.#resolveBuffer!, 0, staging, 0, bytes);
    this.#pendingStaging = staging;
    this.#pendingLabels = labels;
  }

  /** Starts reading what `encodeResolve` copied; call once its command buffer is submitted. */
  submitted(): void {
    const staging = this.#pendingStaging;
    if (!staging) return;
    this.#pendingStaging = undefined;
    this.#reads.push(this.#read(staging, this.#pendingLabels));
  }

  /** The timings of every submit since the last call, in recording order. */
  async collect(): Promise<KernelTiming[]> {
    const reads = this.#reads;
    this.#reads = [];
    return (await Promise.all(reads)).flat();
  }

  async #read(staging: GPUBuffer, labels: string[]): Promise<KernelTiming[]> {
    await staging.mapAsync(MapMode.READ);
    const stamps = new BigUint64Array(staging.getMappedRange(), 0, 2 * labels.length);
    const timings = labels.map((label, i) => ({
      label,
      nanoseconds: Math.max(0, Number(stamps[2 * i + 1]! - stamps[2 * i]!)),
    }));
    staging.unmap();
    this.#pool.giveStaging(staging);
    return timings;
  }
}
