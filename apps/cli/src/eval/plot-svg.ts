/** One value of a metric at a training step, ours or EleutherAI's. */
export interface PlotPoint {
  model: string;
  metric: string;
  step: number;
  value: number;
  stderr?: number;
  source: 'pythiajs' | 'official';
}

/** A panel of a task's plot: the metrics it draws and how its y axis is scaled. */
export interface PlotPanel {
  title: string;
  metrics: readonly string[];
  /** `log` for perplexity: its values span decades. */
  scale: 'linear' | 'log';
}

const WIDTH = 760;
const PANEL_HEIGHT = 340;
const MARGIN = { left: 64, right: 16, top: 28, bottom: 44 };
const LEGEND_ROW = 18;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2'];

/** Text for SVG/XML content and attributes. */
export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

/**
 * The training-step axis: x = log10(step + 1), so that step 0 sits at the origin, the early
 * steps (1, 2, 4 … 512) spread out as on a log axis, and 1000 … 143000 stay apart.
 */
export function stepPosition(step: number): number {
  return Math.log10(step + 1);
}

/** Ticks of the step axis: 0, 1, 10, 100, 1k … up to the last step, and the last step itself. */
export function stepTicks(maxStep: number): { step: number; label: string }[] {
  const ticks = [{ step: 0, label: '0' }];
  for (let p = 1; p <= maxStep; p *= 10) ticks.push({ step: p, label: shortStep(p) });
  // The last step itself (143k for Pythia), in place of a power of ten too close to it.
  const last = ticks.at(-1)!.step;
  if (maxStep > last) {
    if (last > 1 && maxStep < last * 3) ticks.pop();
    ticks.push({ step: maxStep, label: shortStep(maxStep) });
  }
  return ticks;
}

function shortStep(step: number): string {
  if (step >= 1000 && step % 1000 === 0) return `${step / 1000}k`;
  if (step >= 1000) return `${(step / 1000).toFixed(1)}k`;
  return String(step);
}

/** Round tick values over [lo, hi] for a linear axis. */
function linearTicks(lo: number, hi: number): number[] {
  const span = hi - lo || 1;
  const raw = span / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function format(value: number, log = false): string {
  if (log && value >= 1e5) return `1e${Math.round(Math.log10(value))}`;
  if (value !== 0 && (Math.abs(value) >= 1e5 || Math.abs(value) < 1e-3))
    return value.toExponential(1);
  return String(Number(value.toPrecision(4)));
}

/**
 * A task's plot as SVG text: per panel, each metric against the training step, one series per
 * model, metric and source (EleutherAI's official numbers dashed, with hollow markers), with
 * standard-error bars. Every data point is an element carrying `data-model`, `data-metric`,
 * `data-step`, `data-value` and `data-source`, so that the numbers can be read back from the
 * file. Self-contained: no script, no external font or style.
 */
export function plotSvg(
  title: string,
  panels: readonly PlotPanel[],
  points: readonly PlotPoint[],
): string {
  const models = [...new Set(points.map((p) => p.model))];
  const color = (model: string) => COLORS[models.indexOf(model) % COLORS.length]!;
  const series = seriesOf(points);
  const legendRows = series.length;
  const height =
    MARGIN.top + panels.length * (PANEL_HEIGHT + MARGIN.bottom) + 12 + legendRows * LEGEND_ROW;
  const maxStep = Math.max(1, ...points.map((p) => p.step));
  const xMax = stepPosition(maxStep);
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  // 2% of room on each side, so that the points at step 0 and at the last step clear the frame.
  const x = (step: number) => MARGIN.left + ((0.02 + stepPosition(step) / xMax) / 1.04) * plotWidth;

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
  ];
  panels.forEach((panel, n) => {
    const top = MARGIN.top + n * (PANEL_HEIGHT + MARGIN.bottom);
    const bottom = top + PANEL_HEIGHT - MARGIN.top;
    const mine = points.filter((p) => panel.metrics.includes(p.metric));
    const log = panel.scale === 'log';
    const lows = mine.map((p) => (log ? p.value : p.value - (p.stderr ?? 0)));
    const highs = mine.map((p) => (log ? p.value : p.value + (p.stderr ?? 0)));
    let lo = Math.min(...lows);
    let hi = Math.max(...highs);
    let ticks: number[];
    let y: (v: number) => number;
    if (log) {
      const positive = mine.map((p) => p.value).filter((v) => v > 0);
      lo = 10 ** Math.floor(Math.log10(Math.min(...positive, 1)));
      hi = 10 ** Math.ceil(Math.log10(Math.max(...positive, 10)));
      if (hi <= lo) hi = lo * 10;
      ticks = [];
      for (let v = lo; v <= hi * 1.0001; v *= 10) ticks.push(v);
      y = (v) =>
        bottom -
        ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / Math.log10(hi / lo)) * (bottom - top);
    } else {
      if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
      const pad = (hi - lo) * 0.08 || 0.05;
      lo -= pad;
      hi += pad;
      ticks = linearTicks(lo, hi).filter((t) => t >= lo && t <= hi);
      y = (v) => bottom - ((v - lo) / (hi - lo)) * (bottom - top);
    }
    out.push(`<g class="panel" data-metrics="${escapeXml(panel.metrics.join(','))}">`);
    out.push(
      `<text x="${MARGIN.left}" y="${top - 10}" font-size="14" font-weight="bold">${escapeXml(panel.title)}</text>`,
    );
    // Axes, grid and ticks.
    out.push(
      `<rect x="${MARGIN.left}" y="${top}" width="${plotWidth}" height="${bottom - top}" fill="none" stroke="#444"/>`,
    );
    for (const t of ticks) {
      const ty = y(t).toFixed(1);
      out.push(
        `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${ty}" y2="${ty}" stroke="#ddd"/>`,
        `<text x="${MARGIN.left - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle">${escapeXml(format(t, log))}</text>`,
      );
    }
    for (const t of stepTicks(maxStep)) {
      const tx = x(t.step).toFixed(1);
      out.push(
        `<line x1="${tx}" x2="${tx}" y1="${top}" y2="${bottom}" stroke="#eee"/>`,
        `<text x="${tx}" y="${bottom + 16}" text-anchor="middle">${escapeXml(t.label)}</text>`,
      );
    }
    out.push(
      `<text x="${MARGIN.left + plotWidth / 2}" y="${bottom + 34}" text-anchor="middle">training step (log scale, step + 1)</text>`,
      `<text transform="translate(16 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(panel.metrics.join(', '))}${log ? ' (log scale)' : ''}</text>`,
    );
    // Series: a line through the points in step order, then the points with their error bars.
    for (const s of series.filter((s) => panel.metrics.includes(s.metric))) {
      const stroke = color(s.model);
      const official = s.source === 'official';
      const dash = official ? ' stroke-dasharray="6 4"' : '';
      const opacity = s.metric === 'acc_norm' ? ' stroke-opacity="0.6"' : '';
      const path = s.points.map((p) => `${x(p.step).toFixed(1)},${y(p.value).toFixed(1)}`);
      out.push(
        `<polyline points="${path.join(' ')}" fill="none" stroke="${stroke}" stroke-width="1.5"${dash}${opacity}/>`,
      );
      for (const p of s.points) {
        const px = x(p.step).toFixed(1);
        const py = y(p.value).toFixed(1);
        if (!log && p.stderr !== undefined && p.stderr > 0)
          out.push(
            `<line x1="${px}" x2="${px}" y1="${y(p.value - p.stderr).toFixed(1)}" y2="${y(p.value + p.stderr).toFixed(1)}" stroke="${stroke}" stroke-opacity="0.5"/>`,
          );
        const data =
          `data-model="${escapeXml(p.model)}" data-metric="${escapeXml(p.metric)}" ` +
          `data-step="${p.step}" data-value="${p.value}" data-source="${p.source}"` +
          (p.stderr !== undefined ? ` data-stderr="${p.stderr}"` : '');
        const fill = official ? 'white' : stroke;
        const tip = `<title>${escapeXml(`${p.model} ${p.metric} at step ${p.step}: ${p.value}${p.stderr !== undefined ? ` ± ${p.stderr}` : ''} (${p.source})`)}</title>`;
        out.push(
          s.metric === 'acc_norm'
            ? `<rect class="point" x="${(Number(px) - 3).toFixed(1)}" y="${(Number(py) - 3).toFixed(1)}" width="6" height="6" fill="${fill}" stroke="${stroke}" ${data}>${tip}</rect>`
            : `<circle class="point" cx="${px}" cy="${py}" r="3.2" fill="${fill}" stroke="${stroke}" ${data}>${tip}</circle>`,
        );
      }
    }
    out.push('</g>');
  });
  // Legend: one row per series.
  const legendTop = MARGIN.top + panels.length * (PANEL_HEIGHT + MARGIN.bottom) + 4;
  series.forEach((s, i) => {
    const ly = legendTop + i * LEGEND_ROW;
    const stroke = color(s.model);
    const dash = s.source === 'official' ? ' stroke-dasharray="6 4"' : '';
    const label = `${s.model} ${s.metric}${s.source === 'official' ? ' (EleutherAI official)' : ''}`;
    out.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + 28}" y1="${ly}" y2="${ly}" stroke="${stroke}" stroke-width="1.5"${dash}/>`,
      `<text x="${MARGIN.left + 36}" y="${ly}" dominant-baseline="middle">${escapeXml(label)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

interface Series {
  model: string;
  metric: string;
  source: PlotPoint['source'];
  points: PlotPoint[];
}

function seriesOf(points: readonly PlotPoint[]): Series[] {
  const bySeries = new Map<string, Series>();
  for (const p of points) {
    const key = `${p.model}\u0000${p.metric}\u0000${p.source}`;
    let s = bySeries.get(key);
    if (!s) {
      s = { model: p.model, metric: p.metric, source: p.source, points: [] };
      bySeries.set(key, s);
    }
    s.points.push(p);
  }
  for (const s of bySeries.values()) s.points.sort((a, b) => a.step - b.step);
  return [...bySeries.values()];
}
