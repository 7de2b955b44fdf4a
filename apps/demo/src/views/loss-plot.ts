import { showToken } from '../format.js';
import { fixedScale } from '../scales.js';
import { chartRoot, drawSeries, drawXAxis, drawYAxis, type Frame, plotArea } from './chart.js';
import { trainingColour } from './colour.js';

const FRAME: Frame = {
  width: 640,
  height: 220,
  margin: { top: 12, right: 12, bottom: 44, left: 44 },
};

export interface LossSeries {
  revision: string;
  /** Its place among the checkpoints asked for, which sets its colour. */
  index: number;
  losses: readonly number[];
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
  const root = chartRoot(
    FRAME,
    { class: 'loss-plot', 'data-testid': 'loss-plot', 'data-series': series.length },
    'Loss of each token of the text, per training checkpoint',
  );
  const area = plotArea(FRAME);
  const points = Math.max(1, tokens.length - 1);
  const top = Math.max(1, Math.ceil(Math.max(0, ...series.flatMap((s) => s.losses))));
  const yTicks = [0, top / 2, top].map((value) => ({
    value,
    label: value.toFixed(value % 1 ? 1 : 0),
  }));
  const y = fixedScale(0, top, area.bottom, area.top, yTicks);
  // One token alone sits in the middle.
  const xTicks = Array.from({ length: points }, (_, t) => ({
    value: t,
    label: showToken(tokens[t + 1] ?? ''),
  }));
  const x =
    points === 1
      ? fixedScale(-1, 1, area.left, area.right, xTicks)
      : fixedScale(0, points - 1, area.left, area.right, xTicks);

  drawYAxis(root, FRAME, y, 'loss (nats)');
  drawXAxis(root, FRAME, x, { labelClass: 'token-label', maxLabel: 8 });
  for (const line of series) {
    drawSeries(
      root,
      line.losses.map((loss, t) => ({ x: x(t), y: y(loss) })),
      { colour: trainingColour(line.index, count), line: { 'data-revision': line.revision } },
    );
  }
  return root;
}
