import {
  createDevice,
  type Device,
  NoAdapterError,
  WebGPUUnavailableError,
} from '@pythiajs/tensor-core';
import { isDawnNotice } from './dawn-notices.js';
import type { AdapterMemory } from './memory-check.js';
import { filterNativeStderr } from './native-stderr.js';

export type PowerPreference = 'high-performance' | 'low-power';

let dawn: Promise<GPU> | undefined;

/**
 * The process's one Dawn instance (`webgpu` is loaded only by commands that need the GPU). It
 * stays referenced for the life of the process: Dawn crashes when it is collected under a live
 * device. Commands load it before they download a model, so that a missing `webgpu` package is
 * reported before the wait, not after it.
 *
 * @throws {WebGPUUnavailableError} the `webgpu` package cannot be loaded.
 */
export function dawnInstance(): Promise<GPU> {
  dawn ??= (async () => {
    let create: (flags: string[]) => GPU;
    try {
      ({ create } = await import('webgpu'));
    } catch (cause) {
      throw new WebGPUUnavailableError(
        "WebGPU in Node needs Dawn, the 'webgpu' package: reinstall @pythiajs/cli",
        { cause },
      );
    }
    const gpu = create([]);
    // Adapter discovery, where Dawn prints its notices, happens synchronously in this first
    // call; later calls print nothing. (Where stderr is not a terminal or a pipe, bin.ts relays
    // it through a filter instead: see stderr-relay.ts.)
    await filterNativeStderr(() => gpu.requestAdapter(), isDawnNotice);
    return gpu;
  })();
  return dawn;
}

const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|software|microsoft basic render|\bwarp\b/i;

/**
 * Whether an adapter computes on the CPU (lavapipe/llvmpipe, SwiftShader, WARP), from what WebGPU
 * tells of it: its "GPU memory" is then system memory.
 */
export function isSoftwareAdapter(info: {
  vendor?: string;
  architecture?: string;
  description?: string;
  device?: string;
  isFallbackAdapter?: boolean;
}): boolean {
  if (info.isFallbackAdapter === true) return true;
  return SOFTWARE.test(
    [info.vendor, info.architecture, info.description, info.device].filter(Boolean).join(' '),
  );
}

/**
 * The adapter `--device` selects, described: a lightweight request (no device is created), so
 * the memory check can run before the weights are downloaded.
 *
 * @throws {NoAdapterError} WebGPU has no adapter here; the message says how to get one.
 */
export async function describeAdapter(preference?: PowerPreference): Promise<AdapterMemory> {
  const adapter = await (await dawnInstance()).requestAdapter(
    preference ? { powerPreference: preference } : undefined,
  );
  if (!adapter) throw new NoAdapterError('node');
  const info = adapter.info;
  // "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)" → "llvmpipe": the name, for a one-line message.
  const name = info.description.replace(/:.*$/, '').trim();
  return {
    description: name || `${info.vendor} ${info.architecture}`.trim() || 'the WebGPU adapter',
    software: isSoftwareAdapter(info),
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  };
}

/**
 * A WebGPU device on the adapter `--device` asks for, from the process's Dawn instance. The CLI
 * owns its process, so the device may space out Dawn's event polling while it waits for the GPU
 * (`throttleDawnPolling`), which keeps the main thread off a core the GPU's threads can use.
 */
export async function openGpuDevice(preference?: PowerPreference): Promise<Device> {
  return createDevice({
    gpu: await dawnInstance(),
    throttleDawnPolling: true,
    ...(preference ? { powerPreference: preference } : {}),
  });
}
