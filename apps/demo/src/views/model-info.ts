import type { ModelInfo } from '../worker/protocol.js';

/** The loaded model's shape and how it runs; `data-shader-f16` says which f16 path is in use. */
export function renderModelInfo(element: HTMLElement, info: ModelInfo): void {
  element.dataset.shaderF16 = String(info.shaderF16);
  element.dataset.layers = String(info.layers);
  element.dataset.heads = String(info.heads);
  const path = info.shaderF16
    ? 'f16 weights, native shader-f16'
    : 'f16 weights read as packed u32 pairs (this adapter has no shader-f16)';
  element.textContent =
    `${info.layers} layers × ${info.heads} heads, hidden ${info.hiddenSize}, ` +
    `vocabulary ${info.vocabSize.toLocaleString('en')} · ${path}` +
    (info.adapter ? ` · ${info.adapter}` : '');
}
