// Owns the order of a device's work: the promise chain of queued tasks, the one command encoder
// that collects kernels until a submit, the submit itself, and the GPU errors found on the way,
// kept until a flush or read can throw them. Separate from `Device` so that the rules that make
// work run in call order live in one place, apart from what the work is.
import type { DeviceStats } from './device.js';
import { GpuExecutionError } from './errors.js';
import type { Profiler } from './profiler.js';
import { type UniformRing, uniformSlotSize } from './uniform-ring.js';

/**
 * Tasks run in call order: synchronously when nothing is queued ({@link Timeline.now}), else
 * chained after the queued ones. Kernels are encoded into one encoder and submitted together.
 */
export class Timeline {
  readonly #gpuDevice: GPUDevice;
  readonly #stats: Pick<DeviceStats, 'submits'>;
  readonly #ring: UniformRing;
  readonly #profiler: Profiler;
  readonly #assertAlive: () => void;
  #tail: Promise<void> = Promise.resolve();
  #pendingTasks = 0;
  #encoder: GPUCommandEncoder | undefined;
  #errorChecks: Promise<GPUError | null>[] = [];
  #deferredError: unknown;

  constructor(
    gpuDevice: GPUDevice,
    stats: Pick<DeviceStats, 'submits'>,
    ring: UniformRing,
    profiler: Profiler,
    assertAlive: () => void,
  ) {
    this.#gpuDevice = gpuDevice;
    this.#stats = stats;
    this.#ring = ring;
    this.#profiler = profiler;
    this.#assertAlive = assertAlive;
  }

  /** The encoder of the next submit, created on first use. */
  get encoder(): GPUCommandEncoder {
    this.#encoder ??= this.#gpuDevice.createCommandEncoder();
    return this.#encoder;
  }

  /** Keeps `error` for the next {@link throwPendingErrors}, unless an earlier one is kept. */
  defer(error: unknown): void {
    this.#deferredError ??= error;
  }

  /** Runs `task` after all queued work; throws if the device is lost before it runs. */
  enqueue<T>(task: () => T | Promise<T>): Promise<T> {
    this.#assertAlive();
    this.#pendingTasks++;
    const run = this.#tail.then(() => {
      this.#assertAlive();
      return task();
    });
    const done = () => {
      this.#pendingTasks--;
    };
    this.#tail = run.then(done, done);
    return run;
  }

  /**
   * Runs `task` at once when nothing is queued, else after the queued work; either way in call
   * order. Recording synchronously matters: a step whose kernels are all compiled then records
   * in one go, and buffers its intermediates free go back to the pool for its later kernels.
   */
  now(task: () => void): void {
    if (this.#pendingTasks === 0) {
      try {
        task();
      } catch (error) {
        this.defer(error);
      }
      return;
    }
    this.enqueue(task).catch((error: unknown) => {
      this.defer(error);
    });
  }

  /** Encodes one dispatch into the pending command encoder. */
  record(
    compiled: GPUComputePipeline,
    buffers: GPUBuffer[],
    uniforms: Uint8Array | undefined,
    x: number,
    y: number,
    z: number,
    label: string,
  ): void {
    this.#gpuDevice.pushErrorScope('validation');
    const entries: GPUBindGroupEntry[] = buffers.map((buffer, binding) => ({
      binding,
      resource: { buffer },
    }));
    if (uniforms) {
      if (this.#ring.full(uniforms.byteLength)) this.submit();
      const offset = this.#ring.stage(uniforms);
      const size = uniformSlotSize(uniforms.byteLength);
      entries.push({
        binding: entries.length,
        resource: { buffer: this.#ring.buffer, offset, size },
      });
    }
    const bindGroup = this.#gpuDevice.createBindGroup({
      layout: compiled.getBindGroupLayout(0),
      entries,
    });
    let timestampWrites: GPUComputePassTimestampWrites | undefined;
    if (this.#profiler.active) {
      if (this.#profiler.full) this.submit();
      timestampWrites = this.#profiler.timestampWrites(label);
    }
    const pass = this.encoder.beginComputePass(timestampWrites ? { timestampWrites } : {});
    pass.setPipeline(compiled);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
    this.#errorChecks.push(this.#gpuDevice.popErrorScope());
  }

  /** Submits what the encoder holds, with this submit's uniforms and timestamp read-back. */
  submit(): void {
    const encoder = this.#encoder;
    if (!encoder) return;
    this.#encoder = undefined;
    this.#profiler.encodeResolve(encoder);
    this.#gpuDevice.pushErrorScope('validation');
    this.#ring.upload(this.#gpuDevice.queue);
    this.#gpuDevice.queue.submit([encoder.finish()]);
    this.#stats.submits++;
    this.#errorChecks.push(this.#gpuDevice.popErrorScope());
    this.#profiler.submitted();
  }

  /** Throws the first error of the work recorded since the last call, if any. */
  async throwPendingErrors(): Promise<void> {
    const checks = this.#errorChecks;
    this.#errorChecks = [];
    const errors = await Promise.all(checks);
    const deferred = this.#deferredError;
    this.#deferredError = undefined;
    if (deferred !== undefined) throw deferred;
    const first = errors.find((e) => e !== null);
    if (first) throw new GpuExecutionError(`WebGPU rejected recorded work: ${first.message}`);
  }

  /** Drops unsubmitted work, for a device being destroyed. */
  discard(): void {
    this.#encoder = undefined;
  }
}
