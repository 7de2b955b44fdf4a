import { h } from '../dom.js';
import { showToken } from '../format.js';
import type { Analysis } from '../worker/protocol.js';
import { heat, inkOn } from './colour.js';

/** Cells print their percentage up to this many tokens; beyond, the tooltip has it. */
const LABELLED_TOKENS = 12;

/**
 * Attention heatmaps: an overview with one small map per layer and head, and the chosen head in
 * full, its rows and columns labelled with the prompt's tokens. `data-layers`, `data-heads` and
 * `data-tokens` on the root give the dimensions drawn.
 */
export function renderAttention(root: HTMLElement, analysis: Analysis): void {
  const layers = analysis.attention.length;
  const { heads } = analysis;
  const n = analysis.tokens.length;
  const weight = (layer: number, head: number, dest: number, src: number) =>
    analysis.attention[layer]![(head * n + dest) * n + src]!;

  const detail = h('div', { class: 'attention-detail' });
  const buttons: HTMLButtonElement[] = [];
  const choose = (layer: number, head: number) => {
    for (const button of buttons) {
      const chosen = button.dataset.layer === String(layer) && button.dataset.head === String(head);
      button.setAttribute('aria-pressed', String(chosen));
    }
    detail.replaceChildren(heatmapTable(analysis.tokens, layer, head, weight));
  };

  const overview = h('div', {
    class: 'attention-overview',
    role: 'group',
    'aria-label': 'Attention heads by layer',
    style: `--heads: ${heads}`,
  });
  for (let layer = 0; layer < layers; layer++) {
    overview.append(h('span', { class: 'layer-label' }, `L${layer}`));
    for (let head = 0; head < heads; head++) {
      const canvas = h('canvas', { width: n, height: n, 'aria-hidden': 'true' });
      paint(canvas, n, (dest, src) => weight(layer, head, dest, src));
      const button = h(
        'button',
        {
          type: 'button',
          class: 'head',
          'data-layer': layer,
          'data-head': head,
          'aria-label': `Layer ${layer}, head ${head}`,
          title: `Layer ${layer}, head ${head}`,
        },
        canvas,
      );
      button.addEventListener('click', () => choose(layer, head));
      buttons.push(button);
      overview.append(button);
    }
  }

  root.dataset.layers = String(layers);
  root.dataset.heads = String(heads);
  root.dataset.tokens = String(n);
  root.dataset.state = 'ready';
  root.replaceChildren(overview, detail);
  choose(0, 0);
}

function paint(
  canvas: HTMLCanvasElement,
  n: number,
  value: (dest: number, src: number) => number,
): void {
  const context = canvas.getContext('2d');
  if (!context) return;
  for (let dest = 0; dest < n; dest++) {
    for (let src = 0; src < n; src++) {
      context.fillStyle = heat(value(dest, src));
      context.fillRect(src, dest, 1, 1);
    }
  }
}

function heatmapTable(
  tokens: readonly string[],
  layer: number,
  head: number,
  weight: (layer: number, head: number, dest: number, src: number) => number,
): HTMLTableElement {
  const labelled = tokens.length <= LABELLED_TOKENS;
  const table = h(
    'table',
    { class: 'heatmap', 'data-layer': layer, 'data-head': head },
    h('caption', {}, `Layer ${layer}, head ${head}: each row's attention over earlier tokens`),
  );
  const header = h('tr', {}, h('th', { scope: 'col' }, 'attending ↓ / to →'));
  for (const token of tokens) header.append(h('th', { scope: 'col' }, showToken(token)));
  table.append(h('thead', {}, header));
  const body = h('tbody');
  tokens.forEach((destToken, dest) => {
    const row = h('tr', {}, h('th', { scope: 'row' }, showToken(destToken)));
    tokens.forEach((srcToken, src) => {
      const w = weight(layer, head, dest, src);
      const cell = h(
        'td',
        {
          style: `background: ${heat(w)}; color: ${inkOn(w)}`,
          title: `${showToken(destToken)} → ${showToken(srcToken)}: ${(w * 100).toFixed(1)}%`,
          'data-weight': w.toFixed(4),
        },
        labelled && src <= dest ? (w * 100).toFixed(0) : '',
      );
      row.append(cell);
    });
    body.append(row);
  });
  table.append(body);
  return table;
}
