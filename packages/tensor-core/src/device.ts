// The public face of a GPU: `Device`, its option and result types, and `createDevice`. The work
// behind it lives in internal classes it owns (timeline.ts, buffer-pool.ts, uniform-ring.ts,
// profiler.ts) so each keeps its own state; this file keeps what ties them to tensors: making
// them, checking dispatches, and the private BufferIO that tensors read and write through.
import { deviceLimits, openGpuDevice } from './adapter.js';
import type { BufferIO } from './buffer-io.js';
import { BufferPool } from './buffer-pool.js';
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
  ShapeError,
} from './errors.js';
import { BufferUsage, MapMode } from './gpu-constants.js';
import type { GpuProvider } from './gpu-provider.js';
import { type KernelConstants, PipelineCache, type PipelineEntry } from './pipeline-cache.js';
import { Profiler } from './profiler.js';
import { ReadbackPacer, throttleDawnPolling } from './readback-pacer.js';
import { chunkByteLength, rowsPerChunk } from './row-chunks.js';
import { newTensor, Tensor, type TensorChunk } from './tensor.js';
import { Timeline } from './timeline.js';
import { UNIFORM_RING_BYTES, UniformRing } from './uniform-ring.js';

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
  /**
   * Node only: while a read-back waits, space Dawn's event polling out to one poll per
   * millisecond after the first 2 ms. Dawn's Node binding polls in a `setImmediate` loop for as
   * long as any GPU promise is pending, which keeps the main thread busy for the whole wait
   * (about a quarter of a core per decode step at pythia-70m on lavapipe, where that core is
   * the GPU's). It works by replacing the global `setImmediate` while a read waits (other
   * callbacks pass through untouched; it is restored after), so it is off by default: turn it
   * on in a program that owns its process, as the `pythia` CLI does.
   */
  throttleDawnPolling?: boolean;
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
  /**
   * Bind groups created. Dispatches reuse them (uniforms are bound at a dynamic offset of one
   * ring buffer), so a step repeated with the same buffers creates none after its first run.
   */
  bindGroupsCreated: number;
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

const noop = (): void => {};

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

// Set once, by Device's static block: the only way to call its private constructor.
let construct: (
  gpuDevice: GPUDevice,
  provider: GpuProvider,
  adapterInfo: AdapterInfo,
  features: DeviceFeatures,
  maxBindingBytes: number | undefined,
  throttle: boolean,
) => Device;

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
    bindGroupsCreated: 0,
  };

  // Dawn crashes the process if its instance is collected while a device is alive.
  readonly #keepAlive: unknown;
  #lostInfo: DeviceLostInfo | undefined;
  readonly #pool: BufferPool;
  readonly #profiler: Profiler;
  readonly #timeline: Timeline;
  // Node only: when to start waiting for a read-back (see readback-pacer.ts).
  readonly #pacer: ReadbackPacer | undefined;
  readonly #throttle: boolean;
  #readsWaiting = 0;
  // Rejects of reads waiting for a map, ended with DeviceLostError when the device goes away.
  readonly #lostWaiters = new Set<(error: DeviceLostError) => void>();
  // Buffers known to fit a binding, and the array a dispatch's buffers are gathered in.
  readonly #bindable = new WeakSet<GPUBuffer>();
  readonly #gathered: GPUBuffer[] = [];
  // Batches of buffers destroyed, and how many of them Dawn is known to have freed (see
  // #returnMemory), with the buffer whose clear makes it do so.
  #destroyed = 0;
  #returned = 0;
  #returning: Promise<void> | undefined;
  #memoryTick: GPUBuffer | undefined;

  // Tensors move their bytes through this, so raw-buffer I/O is not part of the public API.
  readonly #io: BufferIO = {
    read: (buffer, byteLength) => this.#readBuffer(buffer, byteLength),
    write: (buffer, byteOffset, data) => this.#writeBuffer(buffer, byteOffset, data),
    release: (buffer) => this.#releaseBuffer(buffer),
    destroy: (buffer) => this.#destroyBuffers([buffer]),
  };

  static {
    construct = (gpuDevice, provider, adapterInfo, features, maxBindingBytes, throttle) =>
      new Device(gpuDevice, provider, adapterInfo, features, maxBindingBytes, throttle);
  }

  // Private, so the published types offer no way to make a device but createDevice.
  private constructor(
    gpuDevice: GPUDevice,
    provider: GpuProvider,
    adapterInfo: AdapterInfo,
    features: DeviceFeatures,
    maxBindingBytes = Number.POSITIVE_INFINITY,
    throttle = false,
  ) {
    this.gpuDevice = gpuDevice;
    this.#keepAlive = provider.keepAlive;
    this.environment = provider.environment;
    this.adapterInfo = adapterInfo;
    this.features = features;
    this.limits = deviceLimits(gpuDevice, maxBindingBytes);
    this.pipelines = new PipelineCache(gpuDevice);
    this.#pool = new BufferPool(gpuDevice, this.stats, this.limits.maxBufferSize);
    this.#profiler = new Profiler(gpuDevice, this.#pool);
    this.#timeline = new Timeline(
      gpuDevice,
      this.stats,
      new UniformRing(this.#pool, gpuDevice.limits.minUniformBufferOffsetAlignment),
      this.#profiler,
      () => this.assertAlive(),
    );
    this.#pacer = provider.environment === 'node' ? new ReadbackPacer() : undefined;
    this.#throttle = this.#pacer !== undefined && throttle;
    this.lost = gpuDevice.lost.then((info) => {
      this.#lostInfo ??= {
        reason: info.reason === 'destroyed' ? 'destroyed' : 'unknown',
        message: info.message,
      };
      const error = new DeviceLostError(this.#lostInfo.reason, this.#lostInfo.message);
      for (const reject of this.#lostWaiters) reject(error);
      this.#lostWaiters.clear();
      return this.#lostInfo;
    });
    gpuDevice.addEventListener('uncapturederror', (event) => {
      this.#timeline.defer(
        new GpuExecutionError(
          `WebGPU reported an error: ${(event as GPUUncapturedErrorEvent).error.message}`,
        ),
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
        this.#timeline.now(() => {
          this.#timeline.submit();
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
    const bindings = kernel.bindings;
    const count = bindings.length;
    const buffers = this.#gathered;
    for (let i = 0; i < count; i++) {
      const binding = bindings[i]!;
      const buffer = binding instanceof Tensor ? binding.buffer : binding;
      if (!this.#bindable.has(buffer)) {
        if (buffer.size > this.limits.maxStorageBufferBindingSize) {
          throw new LimitExceededError(
            'maxStorageBufferBindingSize',
            buffer.size,
            this.limits.maxStorageBufferBindingSize,
          );
        }
        this.#bindable.add(buffer);
      }
      buffers[i] = buffer;
    }
    const uniforms = kernel.uniforms;
    if (uniforms && uniforms.byteLength > UNIFORM_RING_BYTES) {
      throw new LimitExceededError('uniform ring slot', uniforms.byteLength, UNIFORM_RING_BYTES);
    }
    const workgroups = kernel.workgroups;
    const x = workgroups[0];
    const y = workgroups[1] ?? 1;
    const z = workgroups[2] ?? 1;
    let entry = this.pipelines.entry(kernel.code, kernel.constants);
    const bound = uniforms ? count + 1 : count;
    if (entry.declaredBindings >= 0 && entry.declaredBindings !== bound) {
      // Fewer bindings than the WGSL declares (some unused): only an 'auto' layout takes that.
      entry = this.pipelines.entry(kernel.code, kernel.constants, true);
    }
    this.stats.dispatches++;
    const timeline = this.#timeline;
    const compiled = entry.compiled;
    if (compiled && timeline.idle) {
      // Compiled and nothing queued: record now, straight from the caller's arrays.
      try {
        timeline.record(entry, compiled, buffers, count, uniforms, x, y, z, kernel.label);
      } catch (error) {
        timeline.defer(error);
      }
      return;
    }
    // Recorded later: keep copies (the next dispatch gathers its buffers into the same array, and
    // the caller may reuse its uniforms).
    const held = buffers.slice(0, count);
    const staged = uniforms
      ? new Uint8Array(
          uniforms.buffer.slice(uniforms.byteOffset, uniforms.byteOffset + uniforms.byteLength),
        )
      : undefined;
    const label = kernel.label;
    const record = (pipeline: GPUComputePipeline, ready: PipelineEntry) =>
      timeline.record(ready, pipeline, held, count, staged, x, y, z, label);
    if (compiled) {
      timeline
        .enqueue(() => record(compiled, entry))
        .catch((error: unknown) => {
          timeline.defer(error);
        });
      return;
    }
    // Nobody awaits a dispatch; its failure is kept for the next flush or read to throw.
    const pending = entry;
    pending.promise.catch(noop);
    timeline
      .enqueue(async () => {
        record(await pending.promise, pending);
      })
      .catch((error: unknown) => {
        timeline.defer(error);
      });
  }

  /**
   * Submits every recorded kernel as one command buffer and resolves when the GPU has accepted
   * it; throws the first error of any work recorded since the last flush.
   */
  async flush(): Promise<void> {
    await this.#timeline.enqueue(() => this.#timeline.submit());
    await this.#timeline.throwPendingErrors();
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
    this.#timeline
      .enqueue(() => {
        this.#timeline.submit(); // kernels recorded before this call are not timed
        this.#profiler.start();
      })
      .catch(noop);
  }

  /**
   * Stops profiling, waits for the GPU, and returns the duration of each kernel recorded since
   * {@link startProfiling}, in recording order.
   */
  async stopProfiling(): Promise<KernelTiming[]> {
    await this.#timeline.enqueue(() => {
      this.#timeline.submit();
      this.#profiler.stop();
    });
    await this.#timeline.throwPendingErrors();
    return this.#profiler.collect();
  }

  /**
   * Frees the buffers in the pool (tensors still alive keep theirs) and resolves once the driver
   * has their memory back, with that of every tensor destroyed before (`tensor.destroy()`, a
   * disposed model's weights).
   *
   * @example
   * ```ts
   * model.dispose();
   * await device.trimPool(); // before loading a model of other shapes on the same device
   * ```
   */
  trimPool(): Promise<void> {
    if (!this.alive) return Promise.resolve();
    this.#timeline.clearBindGroups();
    return this.#destroyBuffers(this.#pool.takeAll());
  }

  /** Releases the GPU device; every later use throws {@link DeviceLostError}. */
  destroy(): void {
    this.#lostInfo ??= { reason: 'destroyed', message: 'device.destroy() was called' };
    this.#timeline.discard();
    this.gpuDevice.destroy();
  }

  /** Copies `byteLength` bytes of `buffer` to the CPU after all earlier work. */
  async #readBuffer(buffer: GPUBuffer, byteLength: number): Promise<ArrayBuffer> {
    const paddedLength = Math.max(4, Math.ceil(byteLength / 4) * 4);
    const timeline = this.#timeline;
    const copy = () => {
      const staging = this.#pool.takeStaging(paddedLength);
      // Taken even for an empty read, so the submit below always happens (and is counted).
      const encoder = timeline.encoder;
      if (byteLength > 0) encoder.copyBufferToBuffer(buffer, 0, staging, 0, paddedLength);
      timeline.submit();
      return { staging, work: timeline.takeWork(paddedLength), submitted: performance.now() };
    };
    let submitted: ReturnType<typeof copy>;
    if (timeline.idle) {
      this.assertAlive();
      submitted = copy();
    } else {
      submitted = await timeline.enqueue(copy);
    }
    const { staging, work } = submitted;
    let mapped = false;
    // Paced only when no other read is waiting: overlapping reads share the GPU's time.
    const paced = this.#pacer !== undefined && this.#readsWaiting === 0;
    this.#readsWaiting++;
    try {
      await timeline.throwPendingErrors();
      const delay = paced ? this.#pacer!.delay(work) : 0;
      if (delay > 0) await sleep(delay);
      const endWait = this.#throttle ? throttleDawnPolling() : undefined;
      try {
        await this.#mapForReading(staging);
      } finally {
        endWait?.();
      }
      mapped = true;
      if (paced) this.#pacer!.record(work, performance.now() - submitted.submitted);
      return staging.getMappedRange().slice(0, byteLength);
    } catch (error) {
      if (this.#lostInfo && !(error instanceof DeviceLostError)) {
        throw new DeviceLostError(this.#lostInfo.reason, this.#lostInfo.message);
      }
      throw error;
    } finally {
      this.#readsWaiting--;
      if (mapped && this.alive) {
        staging.unmap();
        this.#pool.giveStaging(staging);
      } else {
        this.#pool.destroy(staging);
      }
    }
  }

  /** Maps `staging` for reading; losing the device ends the wait, whatever the driver does. */
  #mapForReading(staging: GPUBuffer): Promise<void> {
    this.assertAlive();
    return new Promise<void>((resolve, reject) => {
      this.#lostWaiters.add(reject);
      staging.mapAsync(MapMode.READ).then(
        () => {
          this.#lostWaiters.delete(reject);
          resolve();
        },
        (error: unknown) => {
          this.#lostWaiters.delete(reject);
          reject(error);
        },
      );
    });
  }

  /** Writes `data` at `byteOffset` of `buffer` after all earlier work. */
  #writeBuffer(buffer: GPUBuffer, byteOffset: number, data: ArrayBufferView): Promise<void> {
    return this.#timeline.enqueue(() => {
      // Queue writes overtake unsubmitted commands, so earlier kernels must be submitted first.
      this.#timeline.submit();
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
    this.#pool.giveStorage(buffer);
  }

  /**
   * Destroys `buffers` after submitting the kernels recorded so far (which may still read them),
   * and resolves once their memory is back with the driver.
   */
  #destroyBuffers(buffers: readonly GPUBuffer[]): Promise<void> {
    if (!this.alive) return Promise.resolve();
    if (buffers.length > 0) {
      this.#destroyed++;
      this.#timeline.now(() => {
        this.#timeline.submit();
        for (const buffer of buffers) this.#pool.destroy(buffer);
      });
    }
    return this.#returnMemory();
  }

  /**
   * Dawn frees a destroyed buffer only once submissions made after the destroy have completed;
   * with no later work (a model disposed before the next one loads, whose uploads submit nothing)
   * its memory would stay taken. So this submits a clear of a 4-byte buffer and waits for it,
   * twice (Dawn on lavapipe was measured to free the memory only after the second such
   * submission, whenever the first came right after the destroys), and again while more buffers
   * were destroyed meanwhile.
   */
  #returnMemory(): Promise<void> {
    if (this.#returning) return this.#returning;
    const run = async () => {
      while (this.alive && this.#returned < this.#destroyed) {
        const target = this.#destroyed;
        for (let round = 0; round < 2; round++) {
          await this.#timeline.enqueue(() => {
            this.#memoryTick ??= this.#pool.create(4, BufferUsage.COPY_DST);
            this.#timeline.encoder.clearBuffer(this.#memoryTick);
            this.#timeline.submit();
          });
          await this.gpuDevice.queue.onSubmittedWorkDone();
        }
        this.#returned = target;
      }
    };
    // A lost device frees everything; its errors surface from the next read or flush.
    const returning = run().catch(() => {});
    this.#returning = returning;
    // Cleared after the assignment even when `run` had nothing to wait for.
    void returning.then(() => {
      if (this.#returning === returning) this.#returning = undefined;
    });
    return returning;
  }

  /** Zero-fills a reused buffer ahead of all later work. */
  #clear(buffer: GPUBuffer): void {
    this.#timeline.now(() => {
      this.#timeline.encoder.clearBuffer(buffer);
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
    const perChunk = rowsPerChunk(shape, size, bytesPerElement, limit);
    const rows = shape[0] ?? 1;
    const rowElements = rows === 0 ? 0 : size / rows;
    const chunks: TensorChunk[] = [];
    for (let firstRow = 0; firstRow < rows || chunks.length === 0; firstRow += perChunk) {
      const chunkRows = Math.min(perChunk, rows - firstRow);
      const elements = shape.length === 0 ? size : chunkRows * rowElements;
      const byteLength = chunkByteLength(elements, bytesPerElement);
      const pooled = this.#pool.takeStorage(byteLength);
      const buffer = pooled ?? this.#pool.createStorage(byteLength, mapNew);
      init(buffer, pooled !== undefined, elements);
      chunks.push({ buffer, firstRow, rows: chunkRows, size: elements });
      if (rows === 0) break;
    }
    return chunks;
  }
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
  const { gpuDevice, provider, adapterInfo, features } = await openGpuDevice(options);
  return construct(
    gpuDevice,
    provider,
    adapterInfo,
    features,
    options.maxBindingBytes,
    options.throttleDawnPolling === true,
  );
}
