import { formatBytes, percent } from '../format.js';
import type { LoadEvent } from '../worker/protocol.js';

export interface ProgressElements {
  root: HTMLElement;
  bar: HTMLProgressElement;
  file: HTMLElement;
  total: HTMLElement;
  gpu: HTMLElement;
}

/**
 * Load progress from checkpoint-hub's events: the file at hand and the whole checkpoint, in
 * bytes and percent, then the tensors uploaded to the GPU. `data-percent` is the total's.
 * Files read from the browser cache report once each, complete.
 */
export function createProgressView(elements: ProgressElements) {
  const { root, bar, file, total, gpu } = elements;
  const show = (value: number) => {
    bar.value = value;
    root.dataset.percent = String(value);
  };
  return {
    start(): void {
      root.hidden = false;
      show(0);
      file.textContent = 'Listing files…';
      total.textContent = '';
      gpu.textContent = '';
    },
    update(event: LoadEvent): void {
      if (event.phase === 'upload') {
        gpu.textContent = `To the GPU: tensor ${event.loaded} of ${event.total}`;
        return;
      }
      if (event.phase === 'quantized-cache') return; // model-info says where they came from
      const done = percent(event.loaded, event.total);
      file.textContent =
        `${event.file}: ${formatBytes(event.fileLoaded)} of ${formatBytes(event.fileTotal)} ` +
        `(${percent(event.fileLoaded, event.fileTotal)}%)`;
      total.textContent = `Total: ${formatBytes(event.loaded)} of ${formatBytes(event.total)} (${done}%)`;
      show(done);
    },
  };
}
