import { formatMetric, type OfficialPoint, PYTHIA_LAST_STEP } from '../evaluations.js';
import { linearScale, logScale, stepScale } from '../scales.js';
import { chartRoot, drawSeries, drawXAxis, drawYAxis, type Frame, plotArea, svg } from './chart.js';

const FRAME: Frame = {
  width: 900,
  height: 300,
  margin: { top: 20, right: 20, bottom: 44, left: 56 },
};

/** Official results in the page's accent blue; live runs in orange, to stand out beside them. */
export const OFFICIAL_COLOUR = '#4c6ef5';
export const LIVE_COLOUR = '#e8590c';

/** A live run's value at a checkpoint, with its standard error. */
export interface LivePoint {
  step: number;
  revision: string;
  value: number;
  stderr: number;
  examples: number;
}

export interface EvalPlotInput {
  metric: string;
  official: readonly OfficialPoint[];
  live: readonly LivePoint[];
  /** The loaded checkpoint, marked with a vertical line. */
  loaded?: { step: number; revision: string };
  /** Steps of the official points the latest live run is compared with, ringed. */
  compared?: readonly number[];
}

/**
 * A metric across training: the official value at each published checkpoint as a line of dots,
 * the live runs as larger dots with a bar of ± one standard error, and the loaded checkpoint as
 * a dashed vertical line. Steps are on a log axis that keeps step 0 (`log10(step + 1)`), so the
 * early checkpoints, where most of the change is, are spread out. Perplexity has a log y axis.
 */
export function evalPlot(input: EvalPlotInput): SVGSVGElement {
  const { metric, official, live, loaded, compared = [] } = input;
  const root = chartRoot(
    FRAME,
    {
      class: 'eval-plot',
      'data-testid': 'eval-chart',
      'data-metric': metric,
      'data-official': official.length,
      'data-live': live.length,
    },
    `${metric} across training: official results and live runs`,
  );
  const area = plotArea(FRAME);
  const lastStep = Math.max(
    PYTHIA_LAST_STEP,
    ...official.map((p) => p.step),
    ...live.map((p) => p.step),
    loaded?.step ?? 0,
  );
  const x = stepScale(lastStep, area.left, area.right);
  const values = [
    ...official.map((p) => p.value),
    ...live.flatMap((p) => [p.value - p.stderr, p.value + p.stderr]),
  ];
  const positive = values.filter((v) => v > 0);
  const y =
    metric === 'ppl'
      ? logScale(Math.min(...positive), Math.max(...positive), area.bottom, area.top)
      : linearScale(
          Math.max(0, Math.min(...values)),
          Math.min(1, Math.max(...values)),
          area.bottom,
          area.top,
        );
  // A value the axis cannot show (a perplexity bar below 0) is drawn at its edge.
  const [yLo, yHi] = y.domain;
  const yAt = (value: number) => y(Math.min(yHi, Math.max(yLo, value)));

  drawYAxis(root, FRAME, y, metric);
  drawXAxis(root, FRAME, x, { name: 'training step (log scale)', grid: true });

  if (loaded) {
    const at = x(loaded.step);
    root.append(
      svg('line', {
        x1: at,
        x2: at,
        y1: area.top,
        y2: area.bottom,
        class: 'loaded-marker',
        'data-testid': 'eval-loaded',
        'data-step': loaded.step,
        'data-revision': loaded.revision,
      }),
      svg(
        'text',
        {
          x: at + (at > (area.left + area.right) / 2 ? -4 : 4),
          y: area.top - 6,
          'text-anchor': at > (area.left + area.right) / 2 ? 'end' : 'start',
          class: 'marker-label',
        },
        `loaded: ${loaded.revision}`,
      ),
    );
  }

  drawSeries(
    root,
    official.map((p) => ({
      x: x(p.step),
      y: yAt(p.value),
      attributes: {
        'data-source': 'official',
        'data-step': p.step,
        'data-value': p.value,
        ...(p.stderr !== undefined ? { 'data-stderr': p.stderr } : {}),
      },
      title:
        `official, step ${p.step}: ${metric} ${formatMetric(metric, p.value)}` +
        (p.stderr !== undefined ? ` ± ${formatMetric(metric, p.stderr)}` : ''),
    })),
    {
      colour: OFFICIAL_COLOUR,
      line: { class: 'official-line' },
      radius: 2.5,
      dot: { class: 'official' },
    },
  );

  for (const p of official.filter((o) => compared.includes(o.step))) {
    root.append(
      svg('circle', {
        cx: x(p.step),
        cy: yAt(p.value),
        r: 6,
        class: 'compared',
        'data-compared-step': p.step,
      }),
    );
  }

  for (const p of live) {
    const at = x(p.step);
    root.append(
      svg('line', {
        x1: at,
        x2: at,
        y1: yAt(p.value - p.stderr),
        y2: yAt(p.value + p.stderr),
        class: 'error-bar',
        'data-source': 'live',
        'data-step': p.step,
      }),
      ...[p.value - p.stderr, p.value + p.stderr].map((v) =>
        svg('line', { x1: at - 4, x2: at + 4, y1: yAt(v), y2: yAt(v), class: 'error-bar' }),
      ),
    );
  }
  drawSeries(
    root,
    live.map((p) => ({
      x: x(p.step),
      y: yAt(p.value),
      attributes: {
        'data-source': 'live',
        'data-step': p.step,
        'data-value': p.value,
        'data-stderr': p.stderr,
        'data-examples': p.examples,
        'data-revision': p.revision,
      },
      title:
        `live, ${p.revision}: ${metric} ${formatMetric(metric, p.value)} ± ` +
        `${formatMetric(metric, p.stderr)} on ${p.examples} examples`,
    })),
    // Live runs at different checkpoints are separate measurements: no line joins them.
    { colour: LIVE_COLOUR, radius: 5, joined: false, dot: { class: 'live' } },
  );
  return root;
}
