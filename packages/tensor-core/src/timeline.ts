// Owns the order of a device's work: the promise chain of queued tasks, the one command encoder
// that collects kernels until a submit, the submit itself, and the GPU errors found on the way,
// kept until a flush or read can throw them. Separate from `Device` so that the rules that make
// work run in call order live in one place, apart from what the work is.
import type { DeviceStats } from './device.js';
import { GpuExecutionError } from './errors.js';
import { BindGroupCache, type PipelineEntry } from './pipeline-cache.js';
import type { Profiler } from './profiler.js';
import { type UniformRing, uniformSlotSize } from './uniform-ring.js';

// The descriptor of an untimed compute pass (shared: WebGPU only reads it).
const PLAIN_PASS: GPUComputePassDescriptor = {};

/**
 * Tasks run in call order: synchronously when nothing is queued ({@link Timeline.now}), else
 * chained after the queued ones. Kernels are encoded into one encoder and submitted together.
 */
export class Timeline {
  readonly #gpuDevice: GPUDevice;
  readonly #queue: GPUQueue;
  readonly #stats: Pick<DeviceStats, 'submits' | 'bindGroupsCreated'>;
  readonly #ring: UniformRing;
  readonly #profiler: Profiler;
  readonly #assertAlive: () => void;
  readonly #bindGroups = new BindGroupCache();
  // The dynamic offsets of one setBindGroup (one per uniform binding), reused by every dispatch.
  #offsets = new Uint32Array(4);
  #tail: Promise<void> = Promise.resolve();
  #pendingTasks = 0;
  #encoder: GPUCommandEncoder | undefined;
  // The compute pass untimed dispatches share, open until the encoder is needed for anything else
  // (WebGPU synchronizes each dispatch of a pass with the ones before it).
  #pass: GPUComputePassEncoder | undefined;
  #errorChecks: Promise<GPUError | null>[] = [];
  #deferredError: unknown;
  // What was recorded since the last `takeWork`: how much GPU work a read-back waits for.
  #workDispatches = 0;
  #workGroups = 0;
  #workSubmits = 0;

  constructor(
    gpuDevice: GPUDevice,
    stats: Pick<DeviceStats, 'submits' | 'bindGroupsCreated'>,
    ring: UniformRing,
    profiler: Profiler,
    assertAlive: () => void,
  ) {
    this.#gpuDevice = gpuDevice;
    this.#queue = gpuDevice.queue;
    this.#stats = stats;
    this.#ring = ring;
    this.#profiler = profiler;
    this.#assertAlive = assertAlive;
  }

  /** The encoder of the next submit, created on first use, for commands outside compute passes. */
  get encoder(): GPUCommandEncoder {
    if (this.#pass) this.#endPass();
    this.#encoder ??= this.#gpuDevice.createCommandEncoder();
    return this.#encoder;
  }

  #endPass(): void {
    this.#pass!.end();
    this.#pass = undefined;
  }

  /** True when no task is queued: work called now runs at once, in call order. */
  get idle(): boolean {
    return this.#pendingTasks === 0;
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

  /**
   * Encodes one dispatch into the pending command encoder: `buffers[0…count)` bound in order,
   * then `uniforms` (staged in the ring) as one more binding. With an explicit-layout pipeline the
   * bind group is cached and the uniforms' slot is a dynamic offset, so a repeated step records
   * with no allocation; WebGPU's errors here surface at the submit (`finish` reports them).
   */
  record(
    entry: PipelineEntry,
    compiled: GPUComputePipeline,
    buffers: readonly GPUBuffer[],
    count: number,
    uniforms: ArrayBufferView | undefined,
    x: number,
    y: number,
    z: number,
    label: string | undefined,
  ): void {
    // Room is made before anything is staged: a submit empties the ring.
    const profiling = this.#profiler.active;
    if (profiling && this.#profiler.full) this.submit();
    let offset = 0;
    let slot = 0;
    if (uniforms) {
      if (this.#ring.full(uniforms.byteLength)) this.submit();
      offset = this.#ring.stage(uniforms);
      slot = uniformSlotSize(uniforms.byteLength);
    }
    let group: GPUBindGroup;
    if (entry.dynamic) {
      const level = this.#bindGroups.level(entry, buffers, count);
      let cached = level.get(slot) as GPUBindGroup | undefined;
      if (cached === undefined) {
        cached = this.#createBindGroup(entry.layout!, buffers, count, 0, slot);
        this.#bindGroups.store(level, slot, cached);
      }
      group = cached;
    } else {
      entry.layout ??= compiled.getBindGroupLayout(0);
      group = this.#createBindGroup(entry.layout, buffers, count, offset, slot);
    }
    // A timed dispatch is a pass of its own (timestamps are taken per pass); untimed ones share.
    let pass: GPUComputePassEncoder;
    if (profiling) {
      pass = this.encoder.beginComputePass({
        timestampWrites: this.#profiler.timestampWrites(label ?? entry.label),
      });
    } else {
      if (this.#pass === undefined) {
        this.#encoder ??= this.#gpuDevice.createCommandEncoder();
        this.#pass = this.#encoder.beginComputePass(PLAIN_PASS);
      }
      pass = this.#pass;
    }
    pass.setPipeline(compiled);
    const dynamic = entry.dynamic ? entry.uniformBindings : undefined;
    if (dynamic !== undefined && dynamic.length > 0) {
      // The ring's binding is the one after the buffers; a raw uniform buffer bound among them
      // is bound whole, at offset 0.
      if (dynamic.length > this.#offsets.length) this.#offsets = new Uint32Array(dynamic.length);
      const offsets = this.#offsets;
      for (let i = 0; i < dynamic.length; i++) {
        offsets[i] = slot !== 0 && dynamic[i] === count ? offset : 0;
      }
      pass.setBindGroup(0, group, offsets, 0, dynamic.length);
    } else {
      pass.setBindGroup(0, group);
    }
    pass.dispatchWorkgroups(x, y, z);
    if (profiling) pass.end();
    this.#workDispatches++;
    this.#workGroups += x * y * z;
  }

  /**
   * A bind group of `buffers[0…count)` then, when `slot` > 0, the ring at `offset` (`slot` bytes).
   * Scoped, since unlike encoding errors a bind group's are not reported by the submit.
   */
  #createBindGroup(
    layout: GPUBindGroupLayout,
    buffers: readonly GPUBuffer[],
    count: number,
    offset: number,
    slot: number,
  ): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = [];
    for (let binding = 0; binding < count; binding++) {
      entries.push({ binding, resource: { buffer: buffers[binding]! } });
    }
    if (slot > 0) {
      entries.push({ binding: count, resource: { buffer: this.#ring.buffer, offset, size: slot } });
    }
    this.#gpuDevice.pushErrorScope('validation');
    const group = this.#gpuDevice.createBindGroup({ layout, entries });
    this.#errorChecks.push(this.#gpuDevice.popErrorScope());
    this.#stats.bindGroupsCreated++;
    return group;
  }

  /**
   * A key of the GPU work submitted or recorded since the last call (dispatches, workgroups,
   * submits, and `extra`), which a read-back of the same work will wait about as long for.
   */
  takeWork(extra: number): string {
    const key = `${this.#workDispatches}:${this.#workGroups}:${this.#workSubmits}:${extra}`;
    this.#workDispatches = 0;
    this.#workGroups = 0;
    this.#workSubmits = 0;
    return key;
  }

  /** Forgets the cached bind groups (their buffers may be destroyed). */
  clearBindGroups(): void {
    this.#bindGroups.clear();
  }

  /** Submits what the encoder holds, with this submit's uniforms and timestamp read-back. */
  submit(): void {
    if (this.#pass) this.#endPass();
    const encoder = this.#encoder;
    if (!encoder) return;
    this.#encoder = undefined;
    this.#profiler.encodeResolve(encoder);
    // One scope for the whole command buffer: `finish` reports any error of its encoding.
    this.#gpuDevice.pushErrorScope('validation');
    this.#ring.upload(this.#queue);
    this.#queue.submit([encoder.finish()]);
    this.#stats.submits++;
    this.#workSubmits++;
    this.#errorChecks.push(this.#gpuDevice.popErrorScope());
    this.#profiler.submitted();
  }

  /** Throws the first error of the work recorded since the last call, if any. */
  async throwPendingErrors(): Promise<void> {
    const checks = this.#errorChecks;
    if (checks.length === 0 && this.#deferredError === undefined) return;
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
    this.#pass = undefined;
    this.#encoder = undefined;
    this.#bindGroups.clear();
  }
}
