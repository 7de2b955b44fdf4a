import { h } from '../dom.js';
import { showToken } from '../format.js';
import type { Analysis } from '../worker/protocol.js';
import { heat, inkOn } from './colour.js';

/** `hook_embed` → `embedding`, `blocks.3.hook_resid_post` → `after layer 3`. */
function rowLabel(name: string): string {
  const block = /^blocks\.(\d+)\./.exec(name);
  return block ? `after layer ${block[1]}` : 'embedding';
}

/** A small probability in a few characters: `0.42`, `0.07`, `3e-5`. */
function shortProb(p: number): string {
  return p >= 0.01 ? p.toFixed(2) : p.toExponential(0);
}

/**
 * The logit lens as a grid: a row per point of the residual stream (the embedding, then after
 * each layer), a column per prompt position; each cell the top next-token guess, coloured by
 * its probability, over the probability that layer gives the token that actually comes next
 * (outlined where the guess is that token). Each cell's title lists the top 5. The last row is
 * what actually comes next in the prompt.
 */
export function renderLens(root: HTMLElement, analysis: Analysis): void {
  const { tokens, lens } = analysis;
  // The column count sizes the grid: it fits its panel, and scrolls there past a few dozen tokens.
  const table = h(
    'table',
    { class: 'lens-grid', style: `--positions: ${tokens.length}` },
    h(
      'caption',
      {},
      'Top next-token prediction by layer (rows) and position (columns); below it, the probability of the actual next token',
    ),
    h('colgroup', {}, h('col', { class: 'row-labels' }), h('col', { span: tokens.length })),
  );
  // Cells may cut a long token short; their titles give it whole.
  const header = h('tr', {}, h('th', { scope: 'col' }, 'position →'));
  for (const token of tokens) {
    header.append(h('th', { scope: 'col', title: showToken(token) }, showToken(token)));
  }
  table.append(h('thead', {}, header));

  const body = h('tbody');
  for (const layer of lens) {
    const row = h(
      'tr',
      { 'data-name': layer.name },
      h('th', { scope: 'row' }, rowLabel(layer.name)),
    );
    for (const [position, guess] of layer.top.entries()) {
      const next = layer.next[position] ?? null;
      const nextText = showToken(tokens[position + 1] ?? '');
      const top = (layer.topK[position] ?? [])
        .map((c) => `${showToken(c.text)} ${c.prob.toFixed(3)}`)
        .join(', ');
      const title =
        `${rowLabel(layer.name)}, after "${showToken(tokens[position] ?? '')}": ${showToken(guess.text)} (id ${guess.id}), p = ${guess.prob.toFixed(3)}` +
        `\ntop ${layer.topK[position]?.length ?? 0}: ${top}` +
        (next
          ? `\nactual next "${nextText}": p = ${next.prob.toPrecision(3)}, rank ${next.rank}`
          : '');
      row.append(
        h(
          'td',
          {
            class: next?.rank === 0 ? 'hit' : undefined,
            style: `background: ${heat(guess.prob)}; color: ${inkOn(guess.prob)}`,
            title,
            'data-id': guess.id,
            'data-prob': guess.prob.toFixed(4),
            ...(next
              ? { 'data-next-prob': next.prob.toPrecision(4), 'data-next-rank': next.rank }
              : {}),
          },
          showToken(guess.text),
          ...(next ? [h('span', { class: 'next-prob' }, shortProb(next.prob))] : []),
        ),
      );
    }
    body.append(row);
  }
  table.append(body);

  const actual = h('tr', { class: 'actual' }, h('th', { scope: 'row' }, 'actual next'));
  tokens.forEach((_, position) => {
    const next = tokens[position + 1];
    const text = next === undefined ? '…' : showToken(next);
    actual.append(h('td', { title: text }, text));
  });
  table.append(h('tfoot', {}, actual));

  root.dataset.rows = String(lens.length);
  root.dataset.positions = String(tokens.length);
  root.dataset.state = 'ready';
  root.replaceChildren(table, legend());
}

function legend(): HTMLElement {
  const stops = [0, 0.25, 0.5, 0.75, 1];
  return h(
    'p',
    { class: 'legend', 'aria-hidden': 'true' },
    'probability ',
    ...stops.map((p) =>
      h('span', { style: `background: ${heat(p)}; color: ${inkOn(p)}` }, p.toFixed(2)),
    ),
    ' · small number: probability of the actual next token; outlined: the top guess is it',
  );
}
