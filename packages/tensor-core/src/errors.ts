/** Base class of every error this package throws. */
export class TensorCoreError extends Error {
  override name = 'TensorCoreError';
}

/**
 * The JavaScript runtime has no WebGPU entry point: no `navigator.gpu` in a browser, or the
 * optional `webgpu` package is not installed in Node.
 */
export class WebGPUUnavailableError extends TensorCoreError {
  override name = 'WebGPUUnavailableError';
}

/** `requestAdapter()` returned no adapter: WebGPU exists but no usable GPU driver was found. */
export class NoAdapterError extends TensorCoreError {
  override name = 'NoAdapterError';
  constructor(readonly environment: 'node' | 'browser') {
    super(
      environment === 'node'
        ? 'WebGPU found no GPU adapter. Dawn needs a Vulkan (Linux, Windows), Metal (macOS) or D3D12 ' +
            '(Windows) driver: install your GPU vendor driver, or on a machine without a GPU install ' +
            "Mesa's software Vulkan driver lavapipe (Debian/Ubuntu: `apt-get install mesa-vulkan-drivers`)."
        : 'WebGPU found no GPU adapter. Use a browser with WebGPU enabled (Chrome/Edge 113+, Safari 26+, ' +
            'Firefox 141+ on Windows), make sure hardware acceleration is on, and check chrome://gpu for ' +
            'a blocklisted GPU; in headless Chromium pass --enable-unsafe-webgpu.',
    );
  }
}

/** The GPU device was lost (driver reset, `destroy()`, …); it accepts no further work. */
export class DeviceLostError extends TensorCoreError {
  override name = 'DeviceLostError';
  constructor(
    /** `'destroyed'` after `device.destroy()`, otherwise `'unknown'`. */
    readonly reason: 'destroyed' | 'unknown',
    detail: string,
  ) {
    super(
      reason === 'destroyed'
        ? `the GPU device was destroyed (${detail}); create a new one with createDevice()`
        : `the GPU device was lost (${detail}); create a new one with createDevice() and upload the ` +
            'tensors again',
    );
  }
}

/** A tensor was used after `dispose()`. */
export class TensorDisposedError extends TensorCoreError {
  override name = 'TensorDisposedError';
  constructor(what: string) {
    super(`${what} was disposed; keep the tensor alive until the last operation that uses it`);
  }
}

/** Shapes, dtypes, data lengths or offsets do not fit the operation. */
export class ShapeError extends TensorCoreError {
  override name = 'ShapeError';
}

/** A buffer would exceed one of the device's limits (`maxBufferSize`, binding size, …). */
export class LimitExceededError extends TensorCoreError {
  override name = 'LimitExceededError';
  constructor(
    readonly limit: string,
    readonly requested: number,
    readonly available: number,
    detail?: string,
  ) {
    super(
      `${requested} bytes exceed this device's ${limit} of ${available} bytes; ${
        detail ?? 'split the tensor (e.g. by rows) into parts that fit'
      }`,
    );
  }
}

/** WGSL failed to compile, or the pipeline could not be created. */
export class KernelCompileError extends TensorCoreError {
  override name = 'KernelCompileError';
}

/** The GPU rejected recorded work (a validation or out-of-memory error). */
export class GpuExecutionError extends TensorCoreError {
  override name = 'GpuExecutionError';
}

/** The device lacks an optional WebGPU feature an API needs (e.g. `timestamp-query`). */
export class FeatureUnavailableError extends TensorCoreError {
  override name = 'FeatureUnavailableError';
}
