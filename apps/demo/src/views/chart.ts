import type { Scale } from '../scales.js';

/**
 * The demo's one small SVG chart kit, shared by the loss plot of "Across training" and the
 * evaluation curves: a frame with margins, axes drawn from a {@link Scale}'s ticks, and series as
 * lines with a dot per point. Every data point is an element carrying its data as attributes, so
 * tests (and screen readers, through titles) read values, not pixels.
 */

const SVG = 'http://www.w3.org/2000/svg';

export type SvgAttributes = Record<string, string | number>;

/** A plot's size in viewBox units and the room its axes take on each side. */
export interface Frame {
  width: number;
  height: number;
  margin: { top: number; right: number; bottom: number; left: number };
}

/** The plotting area of a frame, in viewBox units. */
export function plotArea(frame: Frame) {
  const { width, height, margin } = frame;
  return {
    left: margin.left,
    right: width - margin.right,
    top: margin.top,
    bottom: height - margin.bottom,
  };
}

export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: SvgAttributes,
  text?: string,
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** An empty chart of `frame`'s size that scales to its container's width. */
export function chartRoot(frame: Frame, attributes: SvgAttributes, title: string): SVGSVGElement {
  const root = svg('svg', {
    viewBox: `0 0 ${frame.width} ${frame.height}`,
    role: 'img',
    ...attributes,
  });
  root.append(svg('title', {}, title));
  return root;
}

/** Horizontal gridlines at the y scale's ticks, their labels on the left, and the axis name. */
export function drawYAxis(root: SVGSVGElement, frame: Frame, y: Scale, name: string): void {
  const area = plotArea(frame);
  for (const tick of y.ticks) {
    root.append(
      svg('line', {
        x1: area.left,
        x2: area.right,
        y1: y(tick.value),
        y2: y(tick.value),
        class: 'gridline',
      }),
      svg('text', { x: area.left - 6, y: y(tick.value) + 4, 'text-anchor': 'end' }, tick.label),
    );
  }
  const middle = (area.top + area.bottom) / 2;
  root.append(
    svg(
      'text',
      { x: 12, y: middle, transform: `rotate(-90 12 ${middle})`, 'text-anchor': 'middle' },
      name,
    ),
  );
}

/**
 * The x scale's tick labels under the plot (cut to `maxLabel` characters), with vertical
 * gridlines where `grid` is set, and the axis name below them when given.
 */
export function drawXAxis(
  root: SVGSVGElement,
  frame: Frame,
  x: Scale,
  options: { name?: string; grid?: boolean; labelClass?: string; maxLabel?: number } = {},
): void {
  const area = plotArea(frame);
  const max = options.maxLabel ?? Number.POSITIVE_INFINITY;
  for (const tick of x.ticks) {
    if (options.grid) {
      root.append(
        svg('line', {
          x1: x(tick.value),
          x2: x(tick.value),
          y1: area.top,
          y2: area.bottom,
          class: 'gridline',
        }),
      );
    }
    root.append(
      svg(
        'text',
        {
          x: x(tick.value),
          y: area.bottom + 16,
          'text-anchor': 'middle',
          ...(options.labelClass ? { class: options.labelClass } : {}),
        },
        tick.label.length > max ? `${tick.label.slice(0, max - 1)}…` : tick.label,
      ),
    );
  }
  if (options.name) {
    root.append(
      svg(
        'text',
        { x: (area.left + area.right) / 2, y: frame.height - 6, 'text-anchor': 'middle' },
        options.name,
      ),
    );
  }
}

/** A point of a series, in pixels, with what its dot should carry (data attributes, a title). */
export interface SeriesPoint {
  x: number;
  y: number;
  attributes?: SvgAttributes;
  title?: string;
}

/** A line through `points` (when there are two or more, unless `joined` is false) and a dot on each. */
export function drawSeries(
  root: SVGSVGElement,
  points: readonly SeriesPoint[],
  style: {
    colour: string;
    joined?: boolean;
    line?: SvgAttributes;
    radius?: number;
    dot?: SvgAttributes;
  },
): void {
  if (points.length > 1 && style.joined !== false) {
    root.append(
      svg('polyline', {
        points: points.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' '),
        fill: 'none',
        stroke: style.colour,
        'stroke-width': 2,
        ...style.line,
      }),
    );
  }
  for (const point of points) {
    const dot = svg('circle', {
      cx: point.x,
      cy: point.y,
      r: style.radius ?? 3,
      fill: style.colour,
      ...style.dot,
      ...point.attributes,
    });
    if (point.title !== undefined) dot.append(svg('title', {}, point.title));
    root.append(dot);
  }
}
