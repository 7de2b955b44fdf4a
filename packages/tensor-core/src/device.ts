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
  GpuExecutionError,
  LimitExceededError,
  NoAdapterError,
  ShapeError,
} from './errors.js';
import { BufferUsage, MapMode } from './gpu-constants.js';
import { type GpuProvider, resolveGpu, runtimeEnvironment } from './gpu-provider.js';
import { type KernelConstants, PipelineCache } from './pipeline-cache.js';
import { Tensor } from './tensor.js';

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
}

/** The optional WebGPU features this device enabled. */
export interface DeviceFeatures {
  /** Kernels use native `f16`; otherwise f16 tensors are read as packed pairs of a `u32`. */
  readonly shaderF16: boolean;
  readonly subgroups: boolean;
  readonly timestampQuery: boolean;
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
}

const LIMIT_NAMES = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
] as const satisfies readonly (keyof DeviceLimits)[];

const noop = (): void => {};

/**
 * A WebGPU device with tensors, a pipeline cache and one command encoder that collects every
 * kernel until the next {@link Device.flush} (or read), so a whole step is a single submit.
 * Create it with {@link createDevice}.
 *
 * Work is ordered as it is called: kernels, writes, reads and disposals run on one timeline, so
 * callers need not await a kernel before the next one.
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

  // Dawn crashes the process if its instance is collected while a device is alive.
  readonly #keepAlive: unknown;
  #lostInfo: DeviceLostInfo | undefined;
  #timeline: Promise<void> = Promise.resolve();
  #encoder: GPUCommandEncoder | undefined;
  // Buffers the pending encoder uses that die with its submit: uniforms, disposed tensors.
  #releaseAfterSubmit: GPUBuffer[] = [];
  #errorChecks: Promise<GPUError | null>[] = [];
  #deferredError: unknown;

  /** @internal Use {@link createDevice}. */
  constructor(
    gpuDevice: GPUDevice,
    provider: GpuProvider,
    adapterInfo: AdapterInfo,
    features: DeviceFeatures,
  ) {
    this.gpuDevice = gpuDevice;
    this.#keepAlive = provider.keepAlive;
    this.environment = provider.environment;
    this.adapterInfo = adapterInfo;
    this.features = features;
    const limits = {} as Record<keyof DeviceLimits, number>;
    for (const name of LIMIT_NAMES) limits[name] = gpuDevice.limits[name];
    this.limits = limits;
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
    const size = elementCount(shape);
    return new Tensor(this, this.#createStorageBuffer(size, dtype, false), shape, dtype);
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
    const buffer = this.#createStorageBuffer(size, dtype, true);
    const mapped = buffer.getMappedRange();
    new Uint8Array(mapped).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    buffer.unmap();
    return new Tensor(this, buffer, shape, dtype);
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
    const [x, y = 1, z = 1] = kernel.workgroups;
    const pipeline = this.pipelines.get(kernel.code, kernel.constants);
    // Nobody awaits a dispatch; its failure is kept for the next flush or read to throw.
    pipeline.catch(noop);
    this.#enqueue(async () => {
      const compiled = await pipeline;
      this.gpuDevice.pushErrorScope('validation');
      const entries: GPUBindGroupEntry[] = buffers.map((buffer, binding) => ({
        binding,
        resource: { buffer },
      }));
      if (uniforms) {
        const uniformBuffer = this.gpuDevice.createBuffer({
          size: Math.ceil(uniforms.byteLength / 16) * 16,
          usage: BufferUsage.UNIFORM,
          mappedAtCreation: true,
        });
        new Uint8Array(uniformBuffer.getMappedRange()).set(uniforms);
        uniformBuffer.unmap();
        this.#releaseAfterSubmit.push(uniformBuffer);
        entries.push({ binding: entries.length, resource: { buffer: uniformBuffer } });
      }
      const bindGroup = this.gpuDevice.createBindGroup({
        layout: compiled.getBindGroupLayout(0),
        entries,
      });
      this.#encoder ??= this.gpuDevice.createCommandEncoder();
      const pass = this.#encoder.beginComputePass();
      pass.setPipeline(compiled);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(x, y, z);
      pass.end();
      this.#errorChecks.push(this.gpuDevice.popErrorScope());
    }).catch((error: unknown) => {
      this.#deferredError ??= error;
    });
  }

  /**
   * Submits every recorded kernel as one command buffer and resolves when the GPU has accepted
   * it; throws the first error of any work recorded since the last flush.
   */
  async flush(): Promise<void> {
    await this.#enqueue(() => this.#submit());
    await this.#throwPendingErrors();
  }

  /** Releases the GPU device; every later use throws {@link DeviceLostError}. */
  destroy(): void {
    this.#lostInfo ??= { reason: 'destroyed', message: 'device.destroy() was called' };
    this.#encoder = undefined;
    this.gpuDevice.destroy();
  }

  /** @internal Copies `byteLength` bytes of `buffer` to the CPU after all earlier work. */
  async readBuffer(buffer: GPUBuffer, byteLength: number): Promise<ArrayBuffer> {
    const paddedLength = Math.ceil(byteLength / 4) * 4;
    const staging = await this.#enqueue(() => {
      const staging = this.gpuDevice.createBuffer({
        size: Math.max(paddedLength, 4),
        usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
      });
      this.#encoder ??= this.gpuDevice.createCommandEncoder();
      if (paddedLength > 0) this.#encoder.copyBufferToBuffer(buffer, 0, staging, 0, paddedLength);
      this.#submit();
      return staging;
    });
    try {
      await this.#throwPendingErrors();
      // Losing the device must end the wait with an error, whatever the driver does with the map.
      await Promise.race([
        staging.mapAsync(MapMode.READ),
        this.lost.then((info) => {
          throw new DeviceLostError(info.reason, info.message);
        }),
      ]);
      return staging.getMappedRange().slice(0, byteLength);
    } catch (error) {
      if (this.#lostInfo && !(error instanceof DeviceLostError)) {
        throw new DeviceLostError(this.#lostInfo.reason, this.#lostInfo.message);
      }
      throw error;
    } finally {
      staging.destroy();
    }
  }

  /** @internal Writes `data` at `byteOffset` of `buffer` after all earlier work. */
  writeBuffer(buffer: GPUBuffer, byteOffset: number, data: ArrayBufferView): Promise<void> {
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

  /** @internal Destroys `buffer` once the work recorded before this call is submitted. */
  releaseBuffer(buffer: GPUBuffer): void {
    if (!this.alive) return;
    this.#enqueue(() => {
      if (this.#encoder) this.#releaseAfterSubmit.push(buffer);
      else buffer.destroy();
    }).catch(noop);
  }

  #enqueue<T>(task: () => T | Promise<T>): Promise<T> {
    this.assertAlive();
    const run = this.#timeline.then(() => {
      this.assertAlive();
      return task();
    });
    this.#timeline = run.then(noop, noop);
    return run;
  }

  #submit(): void {
    const encoder = this.#encoder;
    if (encoder) {
      this.#encoder = undefined;
      this.gpuDevice.pushErrorScope('validation');
      this.gpuDevice.queue.submit([encoder.finish()]);
      this.#errorChecks.push(this.gpuDevice.popErrorScope());
    }
    // Destroying after submit is safe: the GPU keeps a buffer until submitted work is done.
    for (const buffer of this.#releaseAfterSubmit) buffer.destroy();
    this.#releaseAfterSubmit = [];
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

  #createStorageBuffer(size: number, dtype: DType, mappedAtCreation: boolean): GPUBuffer {
    // Copies and mapped ranges work in 4-byte units, so odd-length f16 tensors get 2 bytes more.
    const byteLength = Math.max(4, Math.ceil((size * BYTES_PER_ELEMENT[dtype]) / 4) * 4);
    if (byteLength > this.limits.maxBufferSize) {
      throw new LimitExceededError('maxBufferSize', byteLength, this.limits.maxBufferSize);
    }
    return this.gpuDevice.createBuffer({
      size: byteLength,
      usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST,
      mappedAtCreation,
    });
  }

  /** @internal Keeps the Dawn instance reachable for as long as the device is. */
  get keepAlive(): unknown {
    return this.#keepAlive;
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
  return new Device(gpuDevice, provider, adapterInfoOf(adapter), {
    shaderF16,
    subgroups,
    timestampQuery,
  });
}
