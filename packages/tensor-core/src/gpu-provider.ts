import { WebGPUUnavailableError } from './errors.js';

/** Where the `GPU` object came from, and what must stay referenced while it is used. */
export interface GpuProvider {
  gpu: GPU;
  environment: 'node' | 'browser';
  /**
   * Dawn's Node instance: when it is garbage-collected while a device lives, the process
   * crashes, so the device wrapper holds on to it.
   */
  keepAlive?: unknown;
}

interface DawnModule {
  create(flags: string[]): GPU;
}

/** `'node'` under Node.js (even Node versions that define `navigator`), else `'browser'`. */
export function runtimeEnvironment(): 'node' | 'browser' {
  const process = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof process?.versions?.node === 'string' ? 'node' : 'browser';
}

/**
 * `navigator.gpu` in browsers and workers; in Node, Dawn from the optional `webgpu` package.
 * The package name sits in a variable so that browser bundlers neither bundle nor resolve it.
 */
export async function resolveGpu(nodeFlags: readonly string[] = []): Promise<GpuProvider> {
  const navigatorGpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (navigatorGpu) return { gpu: navigatorGpu, environment: 'browser' };
  if (runtimeEnvironment() === 'browser') {
    throw new WebGPUUnavailableError(
      'this JavaScript environment has no navigator.gpu: use a browser with WebGPU enabled ' +
        '(Chrome/Edge 113+, Safari 26+, Firefox 141+ on Windows) over https or localhost',
    );
  }
  const specifier = 'webgpu';
  let dawn: DawnModule;
  try {
    dawn = (await import(/* @vite-ignore */ specifier)) as DawnModule;
  } catch (cause) {
    throw new WebGPUUnavailableError(
      "WebGPU in Node needs the optional peer dependency 'webgpu' (Dawn): run `npm install webgpu`",
      { cause },
    );
  }
  const gpu = dawn.create([...nodeFlags]);
  return { gpu, environment: 'node', keepAlive: gpu };
}
