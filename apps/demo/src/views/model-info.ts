import { h } from '../dom.js';
import { formatEstimate } from '../dtype-fit.js';
import type { ModelInfo } from '../worker/protocol.js';

/**
 * The loaded model's shape and how it runs: `data-shader-f16` says which f16 path is in use,
 * `data-dtype` the weights on the GPU (with a note under quantized ones).
 */
export function renderModelInfo(element: HTMLElement, info: ModelInfo): void {
  element.dataset.shaderF16 = String(info.shaderF16);
  element.dataset.layers = String(info.layers);
  element.dataset.heads = String(info.heads);
  element.dataset.dtype = info.dtype;
  const packed = 'read as packed u32 pairs (this adapter has no shader-f16)';
  const quantized = info.dtype === 'q8' || info.dtype === 'q4';
  const origin =
    info.quantized === 'cache'
      ? "read already quantized from this browser's storage"
      : info.quantized === 'kept'
        ? "quantized on load and kept in this browser's storage for the next"
        : 'quantized on load';
  const path = quantized
    ? `${info.dtype} weights, ${origin} (blocks of 32 with an f16 scale; embeddings f16` +
      `${info.shaderF16 ? '' : `, ${packed}`})`
    : info.dtype === 'f32'
      ? 'f32 weights'
      : info.shaderF16
        ? 'f16 weights, native shader-f16'
        : `f16 weights ${packed}`;
  const chosen = info.chosen === 'auto' ? ', chosen automatically' : '';
  const estimate = `about ${formatEstimate(info.estimatedBytes)} of GPU memory${chosen}`;
  element.replaceChildren(
    `${info.layers} layers × ${info.heads} heads, hidden ${info.hiddenSize}, ` +
      `vocabulary ${info.vocabSize.toLocaleString('en')} · ${path} · ${estimate}` +
      (info.adapter ? ` · ${info.adapter}` : ''),
    ...(quantized
      ? [
          h(
            'span',
            { class: 'dtype-note', 'data-testid': 'dtype-caveat' },
            `${info.dtype} weights: results differ slightly from f16 (quantization).`,
          ),
        ]
      : []),
  );
}
