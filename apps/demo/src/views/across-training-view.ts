import { h } from '../dom.js';
import { percent, showToken } from '../format.js';
import type { AcrossTrainingEvent, Candidate } from '../worker/protocol.js';
import { heat, inkOn, trainingColour } from './colour.js';
import { type LossSeries, lossPlot } from './loss-plot.js';

/**
 * "Across training": a row per checkpoint with its five likeliest next tokens and mean loss,
 * filled in as each checkpoint finishes, and the per-token loss plot below.
 */
export function createAcrossTrainingView(root: HTMLElement, status: HTMLElement) {
  let rows = new Map<string, HTMLTableRowElement>();
  let series: LossSeries[] = [];
  let tokens: string[] = [];
  let count = 0;
  const plot = h('div', { class: 'plot' });

  const setCells = (revision: string, ...cells: Array<Node | string>) => {
    const row = rows.get(revision);
    if (!row) return;
    row.replaceChildren(row.firstElementChild!, ...cells.map((cell) => h('td', {}, cell)));
  };

  return {
    start(revisions: readonly string[]): void {
      count = revisions.length;
      series = [];
      rows = new Map();
      const body = h('tbody');
      revisions.forEach((revision, index) => {
        const swatch = h('span', {
          class: 'swatch',
          style: `background: ${trainingColour(index, revisions.length)}`,
        });
        const row = h(
          'tr',
          { 'data-revision': revision, 'data-state': 'waiting' },
          h('th', { scope: 'row' }, swatch, revision),
          h('td', { colspan: 2 }, 'waiting'),
        );
        rows.set(revision, row);
        body.append(row);
      });
      const table = h(
        'table',
        { class: 'across-table' },
        h('caption', {}, 'Next token after the prompt, per checkpoint'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'checkpoint'),
            h('th', { scope: 'col' }, 'top 5 next tokens'),
            h('th', { scope: 'col' }, 'mean loss'),
          ),
        ),
        body,
      );
      plot.replaceChildren();
      root.dataset.state = 'running';
      root.dataset.rows = '0';
      root.replaceChildren(table, plot);
      status.textContent = `Running ${revisions.length} checkpoints…`;
    },
    update(event: AcrossTrainingEvent): void {
      const row = rows.get(event.revision);
      switch (event.kind) {
        case 'start':
          tokens = event.tokens;
          status.textContent = `Checkpoint ${event.index + 1} of ${event.count}: ${event.revision}`;
          setCells(event.revision, 'loading…', '');
          return;
        case 'progress':
          if (event.phase === 'download') {
            setCells(event.revision, `downloading ${percent(event.loaded, event.total)}%`, '');
          } else if (event.phase === 'upload')
            setCells(event.revision, `uploading ${event.loaded}/${event.total}`, '');
          return;
        case 'failed':
          row?.setAttribute('data-state', 'failed');
          setCells(event.revision, `failed: ${event.error.message}`, '');
          return;
        case 'row': {
          row?.setAttribute('data-state', 'done');
          const mean = event.losses.reduce((a, b) => a + b, 0) / Math.max(1, event.losses.length);
          setCells(event.revision, chips(event.top), mean.toFixed(2));
          const index = [...rows.keys()].indexOf(event.revision);
          series = [...series, { revision: event.revision, index, losses: event.losses }];
          root.dataset.rows = String(series.length);
          plot.replaceChildren(lossPlot(tokens, series, count));
          return;
        }
      }
    },
    finish(): void {
      root.dataset.state = 'done';
      status.textContent = `Done: ${series.length} of ${count} checkpoints.`;
    },
    fail(message: string): void {
      root.dataset.state = 'error';
      status.textContent = message;
    },
  };
}

function chips(top: readonly Candidate[]): HTMLElement {
  return h(
    'span',
    { class: 'chips' },
    ...top.map((candidate) =>
      h(
        'span',
        {
          class: 'chip',
          style: `background: ${heat(candidate.prob)}; color: ${inkOn(candidate.prob)}`,
          title: `id ${candidate.id}, p = ${candidate.prob.toFixed(4)}`,
          'data-id': candidate.id,
        },
        `${showToken(candidate.text)} ${(candidate.prob * 100).toFixed(1)}%`,
      ),
    ),
  );
}
