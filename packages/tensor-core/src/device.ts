import type { BufferIO } from './buffer-io.js';
import {
  BYTES_PER_ELEMENT,
  type DType,
  type DTypeOfArray,
  dtypeOf,
  elementCount,
  type TensorData,
} from './dtype.js';
import {
  DeviceLostError,
  FeatureUnavailableError,
  GpuExecutionError,
  LimitExceededError,
  NoAdapterError,
  ShapeError,
} from './errors.js';
import { BufferUsage, MapMode } from './gpu-constants.js';
import { type GpuProvider, resolveGpu, runtimeEnvironment } from './gpu-provider.js';
import { type KernelConstants, PipelineCache } from './pipeline-cache.js';
import { newTensor, Tensor, type TensorChunk } from './tensor.js';

/** Options of {@link createDevice}. */
export interface DeviceOptions {
  /**
   * Ignore `shader-f16` even where the adapter has it, so f16 tensors take the packed-u32 path
   * every adapter supports (useful to test that path, or to dodge a buggy f16 driver).
   */
  disableF16?: boolean;
  /** Do not request `subgroups`. */
  disableSubgroups?: boolean;
  /** Do not request `timestamp-query`. */
  disableTimestampQuery?: boolean;
  /** Forwarded to `requestAdapter`. */
  powerPreference?: GPUPowerPreference;
  /** A `GPU` to use instead of `navigator.gpu` or Dawn (e.g. a Dawn instance created with flags). */
  gpu?: GPU;
  /** Node only: flags for Dawn's `create()`, e.g. `['backend=vulkan']`. */
  nodeFlags?: readonly string[];
  /**
   * Treat `maxStorageBufferBindingSize` as at most this many bytes, so that tests can exercise
   * the row-split path of large tensors with small ones.
   */
  maxBindingBytes?: number;
}

/** The optional WebGPU features this device enabled. */
export interface DeviceFeatures {
  /** Kernels use native `f16`; otherwise f16 tensors are read as packed pairs of a `u32`. */
  readonly shaderF16: boolean;
  readonly subgroups: boolean;
  readonly timestampQuery: boolean;
  /**
   * The subgroup size when `subgroups` is enabled and the adapter reports one fixed size
   * (`subgroupMinSize` = `subgroupMaxSize`), else undefined. Kernels that lay rows out per
   * subgroup use it; others fall back to workgroup reductions.
   */
  readonly subgroupSize?: number;
}

/** The adapter limits this device requested at their real (not default) values. */
export interface DeviceLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupSizeX: number;
  readonly maxComputeWorkgroupsPerDimension: number;
}

/** What the adapter says about itself; any field may be empty (browsers redact some). */
export interface AdapterInfo {
  readonly vendor: string;
  readonly architecture: string;
  readonly description: string;
  readonly device: string;
}

/** Why the device stopped working. */
export interface DeviceLostInfo {
  readonly reason: 'destroyed' | 'unknown';
  readonly message: string;
}

/** Counters of a device's GPU work and memory, for tests and tuning. */
export interface DeviceStats {
  /** GPU buffers created so far: tensors, read-back staging, uniform ring, query resolve. */
  buffersCreated: number;
  /** Bytes of the GPU buffers this device holds now (in use or pooled). */
  bytesAllocated: number;
  /** Tensor and staging buffers taken from the pool instead of created. */
  buffersReused: number;
  /** Bytes held by free buffers in the pool (see {@link Device.trimPool}). */
  pooledBytes: number;
  /** Kernel launches recorded. */
  dispatches: number;
  /** Command buffers submitted. */
  submits: number;
}

/** One kernel's GPU time from {@link Device.stopProfiling}. */
export interface KernelTiming {
  /** The dispatch's `label`, by default the name in the first line comment of its WGSL. */
  readonly label: string;
  /** Nanoseconds between the start and the end of its compute pass. */
  readonly nanoseconds: number;
}

/**
 * One kernel launch: the bindings of `@group(0)` in binding order (tensors or raw buffers),
 * then, if given, `uniforms` as one more uniform-buffer binding.
 */
export interface KernelDispatch {
  /** WGSL with a `@compute fn main`. */
  readonly code: string;
  readonly constants?: KernelConstants;
  readonly bindings: readonly (Tensor | GPUBuffer)[];
  /** Copied when `dispatch` is called, so the caller may reuse the array. */
  readonly uniforms?: ArrayBufferView;
  readonly workgroups: readonly [number, number?, number?];
  /** Name in profiles; defaults to the first word of the WGSL's first line comment. */
  readonly label?: string;
}

const LIMIT_NAMES = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
] as const satisfies readonly (keyof DeviceLimits)[];

// Uniforms of all dispatches of one submit share this buffer, one aligned slot each.
const UNIFORM_RING_BYTES = 256 * 1024;
// Compute passes timed per submit while profiling (two timestamps each).
const PROFILE_PASSES = 512;

const noop = (): void => {};

// Set once, by Device's static block: the only way to call its private constructor.
let construct: (
  gpuDevice: GPUDevice,
  provider: GpuProvider,
  adapterInfo: AdapterInfo,
  features: DeviceFeatures,
  maxBindingBytes: number | undefined,
) => Device;

function labelOf(code: string): string {
  return /^\s*\/\/\s*([\w-]+)/.exec(code)?.[1] ?? 'kernel';
}

/**
 * A WebGPU device with tensors, a pipeline cache and one command encoder that collects every
 * kernel until the next {@link Device.flush} (or read), so a whole step is a single submit.
 * Create it with {@link createDevice}.
 *
 * Work is ordered as it is called: kernels, writes, reads and disposals run on one timeline, so
 * callers need not await a kernel before the next one.
 *
 * Memory is recycled: disposed tensors return their buffers to a pool keyed by byte size, read
 * staging buffers are pooled as well, and uniforms go through one ring buffer, so a repeated
 * step with the same shapes creates no GPU buffers after its first run ({@link Device.stats}).
 */
export class Device {
  /** The underlying WebGPU device, for interop with other WebGPU code. */
  readonly gpuDevice: GPUDevice;
  readonly adapterInfo: AdapterInfo;
  readonly features: DeviceFeatures;
  readonly limits: DeviceLimits;
  /** Where WebGPU came from: Dawn in Node, or the browser's `navigator.gpu`. */
  readonly environment: 'node' | 'browser';
  /** Compiled pipelines of this device. */
  readonly pipelines: PipelineCache;
  /** Resolves (never rejects) when the device is lost or destroyed. */
  readonly lost: Promise<DeviceLostInfo>;
  /** Live counters; read them, do not write them. */
  readonly stats: DeviceStats = {
    buffersCreated: 0,
    bytesAllocated: 0,
    buffersReused: 0,
    pooledBytes: 0,
    dispatches: 0,
    submits: 0,
  };

  // Dawn crashes the process if its instance is collected while a device is alive.
  readonly #keepAlive: unknown;
  #lostInfo: DeviceLostInfo | undefined;
  #timeline: Promise<void> = Promise.resolve();
  #pendingTasks = 0;
  #encoder: GPUCommandEncoder | undefined;
  #errorChecks: Promise<GPUError | null>[] = [];
  #deferredError: unknown;
  // Free buffers by byte size: storage (tensors) and MAP_READ staging.
  readonly #storagePool = new Map<number, GPUBuffer[]>();
  readonly #stagingPool = new Map<number, GPUBuffer[]>();
  // Uniform ring: this submit's uniforms are staged on the CPU and written before the submit.
  #ring: GPUBuffer | undefined;
  readonly #ringData = new Uint8Array(UNIFORM_RING_BYTES);
  #ringUsed = 0;
  readonly #uniformAlignment: number;
  // Profiling: a query set, labels of this submit's timed passes, pending read-backs.
  #profiling = false;
  #querySet: GPUQuerySet | undefined;
  #queryResolve: GPUBuffer | undefined;
  #profileLabels: string[] = [];
  #profileReads: Promise<KernelTiming[]>[] = [];

  // Tensors move their bytes through this, so raw-buffer I/O is not part of the public API.
  readonly #io: BufferIO = {
    read: (buffer, byteLength) => this.#readBuffer(buffer, byteLength),
    write: (buffer, byteOffset, data) => this.#writeBuffer(buffer, byteOffset, data),
    release: (buffer) => this.#releaseBuffer(buffer),
  };

  static {
    construct = (gpuDevice, provider, adapterInfo, features, maxBindingBytes) =>
      new Device(gpuDevice, provider, adapterInfo, features, maxBindingBytes);
  }

  // Private, so the published types offer no way to make a device but createDevice.
  private constructor(
    gpuDevice: GPUDevice,
    provider: GpuProvider,
    adapterInfo: AdapterInfo,
    features: DeviceFeatures,
    maxBindingBytes = Number.POSITIVE_INFINITY,
  ) {
    this.gpuDevice = gpuDevice;
    this.#keepAlive = provider.keepAlive;
    this.environment = provider.environment;
    this.adapterInfo = adapterInfo;
    this.features = features;
    const limits = {} as Record<keyof DeviceLimits, number>;
    for (const name of LIMIT_NAMES) limits[name] = gpuDevice.limits[name];
    limits.maxStorageBufferBindingSize = Math.min(
      limits.maxStorageBufferBindingSize,
      Math.max(4, Math.floor(maxBindingBytes / 4) * 4),
    );
    this.limits = limits;
    this.#uniformAlignment = gpuDevice.limits.minUniformBufferOffsetAlignment;
    this.pipelines = new PipelineCache(gpuDevice);
    this.lost = gpuDevice.lost.then((info) => {
      this.#lostInfo ??= {
        reason: info.reason === 'destroyed' ? 'destroyed' : 'unknown',
        message: info.message,
      };
      return this.#lostInfo;
    });
    gpuDevice.addEventListener('uncapturederror', (event) => {
      this.#deferredError ??= new GpuExecutionError(
        `WebGPU reported an error: ${(event as GPUUncapturedErrorEvent).error.message}`,
      );
    });
  }

  /** False once the device is lost or destroyed. */
  get alive(): boolean {
    return this.#lostInfo === undefined;
  }

  /** Throws {@link DeviceLostError} if the device can no longer take work. */
  assertAlive(): void {
    if (this.#lostInfo) throw new DeviceLostError(this.#lostInfo.reason, this.#lostInfo.message);
  }

  /**
   * A zero-filled tensor.
   *
   * @example
   * ```ts
   * const hidden = device.zeros([seqLen, 512]); // f32
   * const ids = device.zeros([seqLen], 'u32');
   * ```
   */
  zeros<D extends DType = 'f32'>(shape: readonly number[], dtype: D = 'f32' as D): Tensor<D> {
    this.assertAlive();
    const chunks = this.#allocate(shape, dtype, false, (buffer, reused) => {
      if (reused) this.#clear(buffer);
    });
    return newTensor(this, this.#io, chunks, shape, dtype);
  }

  /**
   * A tensor with unspecified contents, for outputs a kernel overwrites completely (cheaper than
   * {@link Device.zeros}: a reused buffer is not cleared).
   */
  empty<D extends DType = 'f32'>(shape: readonly number[], dtype: D = 'f32' as D): Tensor<D> {
    this.assertAlive();
    return newTensor(this, this.#io, this.#allocate(shape, dtype, false, noop), shape, dtype);
  }

  /**
   * A tensor holding a copy of `data`; the dtype follows the array type (Uint16Array is f16 bit
   * patterns, see `f32ArrayToF16Bits`). `shape` defaults to `[data.length]`.
   *
   * @example
   * ```ts
   * const x = device.tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
   * const w = device.tensor(f32ArrayToF16Bits(weights), [out, in]); // f16
   * ```
   */
  tensor<A extends TensorData>(
    data: A,
    shape: readonly number[] = [data.length],
  ): Tensor<DTypeOfArray<A>> {
    this.assertAlive();
    const dtype = dtypeOf(data) as DTypeOfArray<A>;
    const size = elementCount(shape);
    if (size !== data.length) {
      throw new ShapeError(
        `data has ${data.length} elements but shape [${shape.join(', ')}] needs ${size}`,
      );
    }
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const bytesPerElement = BYTES_PER_ELEMENT[dtype];
    let start = 0;
    const chunks = this.#allocate(shape, dtype, true, (buffer, reused, elements) => {
      const part = bytes.subarray(start * bytesPerElement, (start + elements) * bytesPerElement);
      start += elements;
      if (!reused) {
        new Uint8Array(buffer.getMappedRange()).set(part);
        buffer.unmap();
      } else {
        // A pooled buffer's earlier uses may still be queued or unsubmitted: write after them, in
        // call order, submitting them first (a queue write overtakes unsubmitted commands). The
        // data is copied, since the write may happen after the caller has moved on.
        const padded = new Uint8Array(Math.ceil(part.byteLength / 4) * 4);
        padded.set(part);
        this.#now(() => {
          this.#submit();
          this.gpuDevice.queue.writeBuffer(buffer, 0, padded.buffer, 0, padded.byteLength);
        });
      }
    });
    return newTensor(this, this.#io, chunks, shape, dtype);
  }

  /**
   * Records a kernel launch after all work called before it. Returns at once: errors (a failed
   * compile, a validation error) surface from the next {@link Device.flush} or tensor read.
   *
   * @example
   * ```ts
   * device.dispatch({
   *   code: myWgsl,
   *   bindings: [x, y],
   *   uniforms: new Uint32Array([x.size]),
   *   workgroups: [Math.ceil(x.size / 256)],
   * });
   * ```
   */
  dispatch(kernel: KernelDispatch): void {
    this.assertAlive();
    const buffers = kernel.bindings.map((b) => (b instanceof Tensor ? b.buffer : b));
    for (const buffer of buffers) {
      if (buffer.size > this.limits.maxStorageBufferBindingSize) {
        throw new LimitExceededError(
          'maxStorageBufferBindingSize',
          buffer.size,
          this.limits.maxStorageBufferBindingSize,
        );
      }
    }
    const uniforms = kernel.uniforms
      ? new Uint8Array(
          kernel.uniforms.buffer.slice(
            kernel.uniforms.byteOffset,
            kernel.uniforms.byteOffset + kernel.uniforms.byteLength,
          ),
        )
      : undefined;
    if (uniforms && uniforms.byteLength > UNIFORM_RING_BYTES) {
      throw new LimitExceededError('uniform ring slot', uniforms.byteLength, UNIFORM_RING_BYTES);
    }
    const [x, y = 1, z = 1] = kernel.workgroups;
    const label = kernel.label ?? labelOf(kernel.code);
    this.stats.dispatches++;
    const ready = this.pipelines.ready(kernel.code, kernel.constants);
    if (ready) {
      // Compiled: no need to wait for anything but the work queued before.
      this.#now(() => this.#record(ready, buffers, uniforms, [x, y, z], label));
      return;
    }
    const pipeline = this.pipelines.get(kernel.code, kernel.constants);
    // Nobody awaits a dispatch; its failure is kept for the next flush or read to throw.
    pipeline.catch(noop);
    this.#enqueue(async () => {
      this.#record(await pipeline, buffers, uniforms, [x, y, z], label);
    }).catch((error: unknown) => {
      this.#deferredError ??= error;
    });
  }

  /** Encodes one dispatch into the pending command encoder. */
  #record(
    compiled: GPUComputePipeline,
    buffers: GPUBuffer[],
    uniforms: Uint8Array | undefined,
    [x, y, z]: [number, number, number],
    label: string,
  ): void {
    this.gpuDevice.pushErrorScope('validation');
    const entries: GPUBindGroupEntry[] = buffers.map((buffer, binding) => ({
      binding,
      resource: { buffer },
    }));
    if (uniforms) {
      const size = Math.ceil(uniforms.byteLength / 16) * 16;
      if (this.#ringUsed + size > UNIFORM_RING_BYTES) this.#submit();
      const offset = this.#ringUsed;
      this.#ringData.set(uniforms, offset);
      this.#ringUsed = Math.ceil((offset + size) / this.#uniformAlignment) * this.#uniformAlignment;
      this.#ring ??= this.#createBuffer(
        UNIFORM_RING_BYTES,
        BufferUsage.UNIFORM | BufferUsage.COPY_DST,
      );
      entries.push({ binding: entries.length, resource: { buffer: this.#ring, offset, size } });
    }
    const bindGroup = this.gpuDevice.createBindGroup({
      layout: compiled.getBindGroupLayout(0),
      entries,
    });
    let timestampWrites: GPUComputePassTimestampWrites | undefined;
    if (this.#profiling) {
      if (this.#profileLabels.length === PROFILE_PASSES) this.#submit();
      const index = this.#profileLabels.length;
      this.#profileLabels.push(label);
      timestampWrites = {
        querySet: this.#querySet!,
        beginningOfPassWriteIndex: 2 * index,
        endOfPassWriteIndex: 2 * index + 1,
      };
    }
    this.#encoder ??= this.gpuDevice.createCommandEncoder();
    const pass = this.#encoder.beginComputePass(timestampWrites ? { timestampWrites } : {});
    pass.setPipeline(compiled);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
    this.#errorChecks.push(this.gpuDevice.popErrorScope());
  }

  /**
   * Submits every recorded kernel as one command buffer and resolves when the GPU has accepted
   * it; throws the first error of any work recorded since the last flush.
   */
  async flush(): Promise<void> {
    await this.#enqueue(() => this.#submit());
    await this.#throwPendingErrors();
  }

  /**
   * Starts timing every kernel recorded from now on with `timestamp-query` (each kernel is its
   * own compute pass, timed from its start to its end). Collect with {@link stopProfiling}.
   *
   * @throws {FeatureUnavailableError} the device has no `timestamp-query` (browsers may need
   *   `--enable-dawn-features=allow_unsafe_apis`, or `createDevice` was told to disable it).
   *
   * @example
   * ```ts
   * device.startProfiling();
   * const logits = model.step(ids);
   * for (const { label, nanoseconds } of await device.stopProfiling()) console.log(label, nanoseconds);
   * ```
   */
  startProfiling(): void {
    this.assertAlive();
    if (!this.features.timestampQuery) {
      throw new FeatureUnavailableError(
        'profiling needs the timestamp-query feature, which this device lacks; in Chrome start ' +
          'with --enable-dawn-features=allow_unsafe_apis, and do not pass disableTimestampQuery',
      );
    }
    this.#enqueue(() => {
      this.#submit(); // kernels recorded before this call are not timed
      this.#querySet ??= this.gpuDevice.createQuerySet({
        type: 'timestamp',
        count: 2 * PROFILE_PASSES,
      });
      this.#queryResolve ??= this.#createBuffer(
        16 * PROFILE_PASSES,
        BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC,
      );
      this.#profiling = true;
    }).catch(noop);
  }

  /**
   * Stops profiling, waits for the GPU, and returns the duration of each kernel recorded since
   * {@link startProfiling}, in recording order.
   */
  async stopProfiling(): Promise<KernelTiming[]> {
    await this.#enqueue(() => {
      this.#submit();
      this.#profiling = false;
    });
    await this.#throwPendingErrors();
    const reads = this.#profileReads;
    this.#profileReads = [];
    return (await Promise.all(reads)).flat();
  }

  /** Destroys the free buffers in the pool (tensors still alive keep theirs). */
  trimPool(): void {
    for (const pool of [this.#storagePool, this.#stagingPool]) {
      for (const buffers of pool.values())
        for (const buffer of buffers) this.#destroyBuffer(buffer);
      pool.clear();
    }
    this.stats.pooledBytes = 0;
  }

  /** Releases the GPU device; every later use throws {@link DeviceLostError}. */
  destroy(): void {
    this.#lostInfo ??= { reason: 'destroyed', message: 'device.destroy() was called' };
    this.#encoder = undefined;
    this.gpuDevice.destroy();
  }

  /** Copies `byteLength` bytes of `buffer` to the CPU after all earlier work. */
  async #readBuffer(buffer: GPUBuffer, byteLength: number): Promise<ArrayBuffer> {
    const paddedLength = Math.max(4, Math.ceil(byteLength / 4) * 4);
    const staging = await this.#enqueue(() => {
      const staging = this.#take(this.#stagingPool, paddedLength, () =>
        this.#createBuffer(paddedLength, BufferUsage.MAP_READ | BufferUsage.COPY_DST),
      );
      this.#encoder ??= this.gpuDevice.createCommandEncoder();
      if (byteLength > 0) this.#encoder.copyBufferToBuffer(buffer, 0, staging, 0, paddedLength);
      this.#submit();
      return staging;
    });
    let mapped = false;
    try {
      await this.#throwPendingErrors();
      // Losing the device must end the wait with an error, whatever the driver does with the map.
      await Promise.race([
        staging.mapAsync(MapMode.READ),
        this.lost.then((info) => {
          throw new DeviceLostError(info.reason, info.message);
        }),
      ]);
      mapped = true;
      return staging.getMappedRange().slice(0, byteLength);
    } catch (error) {
      if (this.#lostInfo && !(error instanceof DeviceLostError)) {
        throw new DeviceLostError(this.#lostInfo.reason, this.#lostInfo.message);
      }
      throw error;
    } finally {
      if (mapped && this.alive) {
        staging.unmap();
        this.#give(this.#stagingPool, staging);
      } else {
        this.#destroyBuffer(staging);
      }
    }
  }

  /** Writes `data` at `byteOffset` of `buffer` after all earlier work. */
  #writeBuffer(buffer: GPUBuffer, byteOffset: number, data: ArrayBufferView): Promise<void> {
    return this.#enqueue(() => {
      // Queue writes overtake unsubmitted commands, so earlier kernels must be submitted first.
      this.#submit();
      this.gpuDevice.queue.writeBuffer(
        buffer,
        byteOffset,
        data.buffer,
        data.byteOffset,
        data.byteLength,
      );
    });
  }

  /** Returns `buffer` to the pool once the work recorded before this call is submitted. */
  #releaseBuffer(buffer: GPUBuffer): void {
    if (!this.alive) return;
    // Back to the pool at once, even while work that uses it is queued or unsubmitted: kernels
    // are recorded in call order, so a later kernel may reuse the buffer within the same step (a
    // forward pass of 24 layers then needs one layer's intermediates, not 24). Queue writes,
    // which would overtake that work, go through the queue and submit it first (see `tensor`).
    this.#give(this.#storagePool, buffer);
  }

  #enqueue<T>(task: () => T | Promise<T>): Promise<T> {
    this.assertAlive();
    this.#pendingTasks++;
    const run = this.#timeline.then(() => {
      this.assertAlive();
      return task();
    });
    const done = () => {
      this.#pendingTasks--;
    };
    this.#timeline = run.then(done, done);
    return run;
  }

  #submit(): void {
    const encoder = this.#encoder;
    if (encoder) {
      this.#encoder = undefined;
      let timing: { staging: GPUBuffer; labels: string[] } | undefined;
      if (this.#profileLabels.length > 0) {
        const labels = this.#profileLabels;
        this.#profileLabels = [];
        const bytes = 16 * labels.length;
        const staging = this.#take(this.#stagingPool, bytes, () =>
          this.#createBuffer(bytes, BufferUsage.MAP_READ | BufferUsage.COPY_DST),
        );
        encoder.resolveQuerySet(this.#querySet!, 0, 2 * labels.length, this.#queryResolve!, 0);
        encoder.copyBufferToBuffer(this.#queryResolve!, 0, staging, 0, bytes);
        timing = { staging, labels };
      }
      this.gpuDevice.pushErrorScope('validation');
      if (this.#ringUsed > 0 && this.#ring) {
        this.gpuDevice.queue.writeBuffer(this.#ring, 0, this.#ringData, 0, this.#ringUsed);
      }
      this.#ringUsed = 0;
      this.gpuDevice.queue.submit([encoder.finish()]);
      this.stats.submits++;
      this.#errorChecks.push(this.gpuDevice.popErrorScope());
      if (timing) this.#profileReads.push(this.#readTimings(timing.staging, timing.labels));
    }
  }

  async #readTimings(staging: GPUBuffer, labels: string[]): Promise<KernelTiming[]> {
    await staging.mapAsync(MapMode.READ);
    const stamps = new BigUint64Array(staging.getMappedRange(), 0, 2 * labels.length);
    const timings = labels.map((label, i) => ({
      label,
      nanoseconds: Math.max(0, Number(stamps[2 * i + 1]! - stamps[2 * i]!)),
    }));
    staging.unmap();
    this.#give(this.#stagingPool, staging);
    return timings;
  }

  async #throwPendingErrors(): Promise<void> {
    const checks = this.#errorChecks;
    this.#errorChecks = [];
    const errors = await Promise.all(checks);
    const deferred = this.#deferredError;
    this.#deferredError = undefined;
    if (deferred !== undefined) throw deferred;
    const first = errors.find((e) => e !== null);
    if (first) throw new GpuExecutionError(`WebGPU rejected recorded work: ${first.message}`);
  }

  /** Zero-fills a reused buffer ahead of all later work. */
  #clear(buffer: GPUBuffer): void {
    this.#now(() => {
      this.#encoder ??= this.gpuDevice.createCommandEncoder();
      this.#encoder.clearBuffer(buffer);
    });
  }

  /**
   * Runs `task` at once when nothing is queued, else after the queued work; either way in call
   * order. Recording synchronously matters: a step whose kernels are all compiled then records
   * in one go, and buffers its intermediates free go back to the pool for its later kernels.
   */
  #now(task: () => void): void {
    if (this.#pendingTasks === 0) {
      try {
        task();
      } catch (error) {
        this.#deferredError ??= error;
      }
      return;
    }
    this.#enqueue(task).catch((error: unknown) => {
      this.#deferredError ??= error;
    });
  }

  /**
   * The buffers of a tensor of `shape`: one, or (above the binding limit) one per run of whole
   * rows of the first dimension. `init` sees each buffer with its element count: `reused` from
   * the pool, or new (and mapped if `mapNew`).
   */
  #allocate(
    shape: readonly number[],
    dtype: DType,
    mapNew: boolean,
    init: (buffer: GPUBuffer, reused: boolean, elements: number) => void,
  ): TensorChunk[] {
    const size = elementCount(shape);
    const bytesPerElement = BYTES_PER_ELEMENT[dtype];
    const limit = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
    const rows = shape[0] ?? 1;
    let rowsPerChunk = rows;
    if (size * bytesPerElement > limit) {
      const rowElements = rows === 0 ? 0 : size / rows;
      rowsPerChunk = Math.floor(limit / (rowElements * bytesPerElement));
      // Chunks must start on a 4-byte boundary: an even number of odd-length f16 rows.
      if (bytesPerElement === 2 && rowElements % 2 === 1) rowsPerChunk &= ~1;
      if (shape.length < 2 || rowsPerChunk < 1) {
        throw new LimitExceededError(
          'maxStorageBufferBindingSize',
          Math.max(size, rowElements) * bytesPerElement,
          limit,
          `a tensor of shape [${shape.join(', ')}] can only be split by rows of its first dimension, and one row must fit`,
        );
      }
    }
    const rowElements = rows === 0 ? 0 : size / rows;
    const chunks: TensorChunk[] = [];
    for (let firstRow = 0; firstRow < rows || chunks.length === 0; firstRow += rowsPerChunk) {
      const chunkRows = Math.min(rowsPerChunk, rows - firstRow);
      const elements = shape.length === 0 ? size : chunkRows * rowElements;
      // Copies and mapped ranges work in 4-byte units, so odd-length f16 tensors get 2 bytes more.
      const byteLength = Math.max(4, Math.ceil((elements * bytesPerElement) / 4) * 4);
      let reused = true;
      const buffer = this.#take(this.#storagePool, byteLength, () => {
        reused = false;
        return this.#createBuffer(
          byteLength,
          BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST,
          mapNew,
        );
      });
      init(buffer, reused, elements);
      chunks.push({ buffer, firstRow, rows: chunkRows, size: elements });
      if (rows === 0) break;
    }
    return chunks;
  }

  #take(pool: Map<number, GPUBuffer[]>, byteLength: number, create: () => GPUBuffer): GPUBuffer {
    const buffer = pool.get(byteLength)?.pop();
    if (buffer) {
      this.stats.buffersReused++;
      this.stats.pooledBytes -= byteLength;
      return buffer;
    }
    return create();
  }

  #give(pool: Map<number, GPUBuffer[]>, buffer: GPUBuffer): void {
    let list = pool.get(buffer.size);
    if (!list) {
      list = [];
      pool.set(buffer.size, list);
    }
    list.push(buffer);
    this.stats.pooledBytes += buffer.size;
  }

  #createBuffer(size: number, usage: number, mappedAtCreation = false): GPUBuffer {
    if (size > this.limits.maxBufferSize) {
      throw new LimitExceededError('maxBufferSize', size, this.limits.maxBufferSize);
    }
    this.stats.buffersCreated++;
    this.stats.bytesAllocated += size;
    return this.gpuDevice.createBuffer({ size, usage, mappedAtCreation });
  }

  #destroyBuffer(buffer: GPUBuffer): void {
    this.stats.bytesAllocated -= buffer.size;
    buffer.destroy();
  }
}

function adapterInfoOf(adapter: GPUAdapter): AdapterInfo {
  // `adapter.info` replaced `requestAdapterInfo()`; very old browsers have neither.
  const info = (adapter as { info?: Partial<GPUAdapterInfo> }).info ?? {};
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    description: info.description ?? '',
    device: info.device ?? '',
  };
}

/**
 * Opens a WebGPU device: `navigator.gpu` in browsers, Dawn (the optional `webgpu` package) in
 * Node. Requests the adapter's real limits and the features among `shader-f16`, `subgroups` and
 * `timestamp-query` that it has.
 *
 * @throws {WebGPUUnavailableError} no WebGPU in this environment (or `webgpu` not installed).
 * @throws {NoAdapterError} WebGPU found no adapter; the message says how to get one.
 *
 * @example
 * ```ts
 * const device = await createDevice();
 * console.log(device.adapterInfo.description, device.features.shaderF16);
 * device.lost.then((info) => console.warn('GPU lost:', info.message));
 * ```
 */
export async function createDevice(options: DeviceOptions = {}): Promise<Device> {
  const provider: GpuProvider = options.gpu
    ? { gpu: options.gpu, environment: runtimeEnvironment() }
    : await resolveGpu(options.nodeFlags);
  const adapter = await provider.gpu.requestAdapter(
    options.powerPreference ? { powerPreference: options.powerPreference } : undefined,
  );
  if (!adapter) throw new NoAdapterError(provider.environment);
  const shaderF16 = !options.disableF16 && adapter.features.has('shader-f16');
  const subgroups = !options.disableSubgroups && adapter.features.has('subgroups');
  const timestampQuery = !options.disableTimestampQuery && adapter.features.has('timestamp-query');
  const requiredFeatures: GPUFeatureName[] = [];
  if (shaderF16) requiredFeatures.push('shader-f16');
  if (subgroups) requiredFeatures.push('subgroups' as GPUFeatureName);
  if (timestampQuery) requiredFeatures.push('timestamp-query');
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMIT_NAMES) requiredLimits[name] = adapter.limits[name];
  const gpuDevice = await adapter.requestDevice({
    label: 'pythiajs',
    requiredFeatures,
    requiredLimits,
  });
  const info = (adapter as { info?: { subgroupMinSize?: number; subgroupMaxSize?: number } }).info;
  const subgroupSize =
    subgroups && info?.subgroupMinSize && info.subgroupMinSize === info.subgroupMaxSize
      ? info.subgroupMinSize
      : undefined;
  return construct(
    gpuDevice,
    provider,
    adapterInfoOf(adapter),
    { shaderF16, subgroups, timestampQuery, subgroupSize },
    options.maxBindingBytes,
  );
}
