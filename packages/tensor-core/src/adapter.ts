// Turns a `GPU` into a `GPUDevice`: picks the adapter, the optional features it has, and its real
// limits. Kept apart from `Device` because this runs once, before any device exists, and is where
// browsers and Dawn differ in what they report; `Device` only consumes the outcome.
import type { AdapterInfo, DeviceFeatures, DeviceLimits, DeviceOptions } from './device.js';
import { NoAdapterError } from './errors.js';
import { type GpuProvider, resolveGpu, runtimeEnvironment } from './gpu-provider.js';

// The default limits are far below what transformer weights need, so these are requested at the
// adapter's values (and reported to kernels, which size their work by them).
const LIMIT_NAMES = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
] as const satisfies readonly (keyof DeviceLimits)[];

/** What `createDevice` hands the `Device` constructor. */
export interface OpenedDevice {
  readonly gpuDevice: GPUDevice;
  readonly provider: GpuProvider;
  readonly adapterInfo: AdapterInfo;
  readonly features: DeviceFeatures;
}

/**
 * The limits a device reports: the ones it was opened with, with the binding size capped at
 * `maxBindingBytes` (rounded down to whole words) so tests can force the row-split path.
 */
export function deviceLimits(gpuDevice: GPUDevice, maxBindingBytes: number): DeviceLimits {
  const limits = {} as Record<keyof DeviceLimits, number>;
  for (const name of LIMIT_NAMES) limits[name] = gpuDevice.limits[name];
  limits.maxStorageBufferBindingSize = Math.min(
    limits.maxStorageBufferBindingSize,
    Math.max(4, Math.floor(maxBindingBytes / 4) * 4),
  );
  return limits;
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

/** Resolves WebGPU, requests an adapter and opens a device on it (see `createDevice`). */
export async function openGpuDevice(options: DeviceOptions): Promise<OpenedDevice> {
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
  return {
    gpuDevice,
    provider,
    adapterInfo: adapterInfoOf(adapter),
    features: { shaderF16, subgroups, timestampQuery, subgroupSize },
  };
}
