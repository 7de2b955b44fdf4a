import { showToken } from '../format.js';
import { trainingColour } from './colour.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 640;
const HEIGHT = 220;
const MARGIN = { top: 12, right: 12, bottom: 44, left: 44 };

export interface LossSeries {
  revision: string;
  /** Its place among the checkpoints asked for, which sets its colour. */
  index: number;
  losses: readonly number[];
}

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/**
 * Per-token loss (nats) as lines, one per checkpoint, coloured from early (light) to late
 * (dark) training: where the lines drop is where the model learned to predict that token.
 * `tokens` are the text's tokens; loss `t` is that of token `t + 1`.
 */
export function lossPlot(
  tokens: readonly string[],
  series: readonly LossSeries[],
  count: number,
): SVGSVGElement {
  const root = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    class: 'loss-plot',
    role: 'img',
    'data-testid': 'loss-plot',
    'data-series': series.length,
  });
  root.append(svg('title', {}, 'Loss of each token of the text, per training checkpoint'));
  const points = Math.max(1, tokens.length - 1);
  const top = Math.max(1, Math.ceil(Math.max(0, ...series.flatMap((s) => s.losses))));
  const innerWidth = WIDTH - MARGIN.left - MARGIN.right;
  const innerHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (t: number) =>
    MARGIN.left + (points === 1 ? innerWidth / 2 : (t * innerWidth) / (points - 1));
  const y = (loss: number) => MARGIN.top + innerHeight * (1 - loss / top);

  for (const value of [0, top / 2, top]) {
    root.append(
      svg('line', {
        x1: MARGIN.left,
        x2: WIDTH - MARGIN.right,
        y1: y(value),
        y2: y(value),
        class: 'gridline',
      }),
      svg(
        'text',
        { x: MARGIN.left - 6, y: y(value) + 4, 'text-anchor': 'end' },
        value.toFixed(value % 1 ? 1 : 0),
      ),
    );
  }
  root.append(
    svg(
      'text',
      {
        x: 12,
        y: MARGIN.top + innerHeight / 2,
        transform: `rotate(-90 12 ${MARGIN.top + innerHeight / 2})`,
        'text-anchor': 'middle',
      },
      'loss (nats)',
    ),
  );
  for (let t = 0; t < points; t++) {
    const label = showToken(tokens[t + 1] ?? '');
    root.append(
      svg(
        'text',
        { x: x(t), y: HEIGHT - MARGIN.bottom + 16, 'text-anchor': 'middle', class: 'token-label' },
        label.length > 8 ? `${label.slice(0, 7)}…` : label,
      ),
    );
  }
  series.forEach((line) => {
    const colour = trainingColour(line.index, count);
    const coords = line.losses.map((loss, t) => `${x(t).toFixed(1)},${y(loss).toFixed(1)}`);
    root.append(
      svg('polyline', {
        points: coords.join(' '),
        fill: 'none',
        stroke: colour,
        'stroke-width': 2,
        'data-revision': line.revision,
      }),
    );
    for (const [t, loss] of line.losses.entries()) {
      root.append(svg('circle', { cx: x(t), cy: y(loss), r: 3, fill: colour }));
    }
  });
  return root;
}
