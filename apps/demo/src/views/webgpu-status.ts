import { ENABLE_WEBGPU } from '../explain-error.js';

/** What this browser offers for running models on the GPU. */
export type WebGpuReport =
  | { state: 'no-webgpu'; secureContext: boolean }
  | { state: 'no-adapter' }
  | { state: 'error'; message: string }
  | {
      state: 'ready';
      adapter: AdapterSummary;
      /** Whether `shader-f16` can be requested: half-precision weights and math in shaders. */
      shaderF16: boolean;
      /** Bytes; bounds the largest weight matrix one binding can hold. */
      maxStorageBufferBindingSize: number;
      maxBufferSize: number;
    };

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software or otherwise reduced adapter (e.g. SwiftShader). */
  isFallbackAdapter: boolean;
}

/** Asks `gpu` (the page's `navigator.gpu`) for an adapter and what it supports. */
export async function probeWebGpu(
  gpu: GPU | undefined,
  secureContext = true,
): Promise<WebGpuReport> {
  if (!gpu) return { state: 'no-webgpu', secureContext };
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (error) {
    return { state: 'error', message: error instanceof Error ? error.message : String(error) };
  }
  if (!adapter) return { state: 'no-adapter' };
  // Browsers before `GPUAdapter.info` (Chrome < 127) have no synchronous adapter info.
  const info: Partial<GPUAdapterInfo> = 'info' in adapter ? adapter.info : {};
  return {
    state: 'ready',
    adapter: {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      isFallbackAdapter: info.isFallbackAdapter ?? false,
    },
    shaderF16: adapter.features.has('shader-f16'),
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize,
  };
}

/** One line naming the adapter, from whichever of its descriptive fields the browser fills. */
export function adapterName(adapter: AdapterSummary): string {
  const parts = [adapter.description, adapter.vendor, adapter.architecture, adapter.device];
  const named = [...new Set(parts.filter((part) => part !== ''))];
  return named.length > 0 ? named.join(' · ') : 'unnamed adapter';
}

/** Probes this page's WebGPU and shows the result in `element`. */
export async function mountWebGpuStatus(element: HTMLElement): Promise<WebGpuReport> {
  const report = await probeWebGpu(navigator.gpu, window.isSecureContext);
  renderWebGpuReport(element, report);
  return report;
}

export function renderWebGpuReport(element: HTMLElement, report: WebGpuReport): void {
  element.dataset.state = report.state;
  element.dataset.adapter = report.state === 'ready' ? 'granted' : 'none';
  if (report.state === 'ready')
    element.dataset.f16 = report.shaderF16 ? 'available' : 'unavailable';
  else delete element.dataset.f16;

  switch (report.state) {
    case 'no-webgpu':
      element.replaceChildren(
        rows([['WebGPU', 'not available: this browser has no navigator.gpu']]),
        note(
          report.secureContext
            ? ENABLE_WEBGPU
            : 'WebGPU only exists on secure pages: open this site over https or from localhost.',
        ),
      );
      return;
    case 'no-adapter':
      element.replaceChildren(
        rows([
          ['WebGPU', 'available (navigator.gpu)'],
          ['Adapter', 'none granted'],
        ]),
        note(
          'The browser has WebGPU but offered no GPU adapter: the GPU may be blocklisted or ' +
            'hardware acceleration switched off. chrome://gpu tells why; ' +
            'chrome://flags/#enable-unsafe-webgpu allows blocklisted GPUs.',
        ),
      );
      return;
    case 'error':
      element.replaceChildren(
        rows([
          ['WebGPU', 'available (navigator.gpu)'],
          ['Adapter', `request failed: ${report.message}`],
        ]),
      );
      return;
    case 'ready':
      element.replaceChildren(
        rows([
          ['WebGPU', 'available (navigator.gpu)'],
          [
            'Adapter',
            adapterName(report.adapter) + (report.adapter.isFallbackAdapter ? ' (fallback)' : ''),
          ],
          [
            'shader-f16',
            report.shaderF16
              ? 'available'
              : 'unavailable: this adapter has no half-precision shaders',
          ],
          ['Largest storage binding', formatBytes(report.maxStorageBufferBindingSize)],
          ['Largest buffer', formatBytes(report.maxBufferSize)],
        ]),
      );
      return;
  }
}

function rows(entries: ReadonlyArray<readonly [string, string]>): HTMLDListElement {
  const list = document.createElement('dl');
  for (const [term, value] of entries) {
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    dd.textContent = value;
    list.append(dt, dd);
  }
  return list;
}

function note(text: string): HTMLParagraphElement {
  const paragraph = document.createElement('p');
  paragraph.className = 'note';
  paragraph.textContent = text;
  return paragraph;
}

function formatBytes(bytes: number): string {
  const mib = bytes / 2 ** 20;
  return mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${Math.round(mib)} MiB`;
}
