import { shortStep } from './checkpoints.js';

/** A map from data values to pixels, and the ticks that label it. */
export interface Scale {
  (value: number): number;
  /** The data values at either end of the axis. */
  readonly domain: readonly [number, number];
  readonly ticks: readonly Tick[];
}

export interface Tick {
  value: number;
  label: string;
}

/**
 * Where a training step sits on a log axis that still shows step 0: `log10(step + 1)`, a
 * "symlog" that is 0 at step 0, near 0.3 at step 1, 3 at step 1000 and 5.16 at step 143000.
 * Pythia's checkpoints are log-spaced up to step 512 (0, 1, 2, 4 … 512) and linear after, so on
 * this axis the early ones are as readable as the late ones.
 */
export function symlogStep(step: number): number {
  return Math.log10(Math.max(0, step) + 1);
}

/**
 * The x axis over training steps 0 … `lastStep`, on {@link symlogStep}, mapped to pixels
 * `from` … `to`. Ticks at 0 and each power of ten up to the last step, labelled as the slider
 * labels steps (`1k`, `100k`), and the last step itself where it is not too close to one.
 */
export function stepScale(lastStep: number, from: number, to: number): Scale {
  const end = symlogStep(Math.max(1, lastStep));
  const ticks: Tick[] = [{ value: 0, label: '0' }];
  for (let power = 1; power <= lastStep; power *= 10) {
    ticks.push({ value: power, label: shortStep(power) });
  }
  const lastTick = ticks.at(-1)!;
  // Only where the labels do not collide (0.3 decade is about two labels' width on the plot).
  if (lastTick.value !== lastStep && end - symlogStep(lastTick.value) > 0.3) {
    ticks.push({ value: lastStep, label: shortStep(lastStep) });
  }
  const scale = (step: number) => from + ((to - from) * symlogStep(step)) / end;
  return Object.assign(scale, { domain: [0, Math.max(1, lastStep)] as const, ticks });
}

/**
 * A linear axis over `min` … `max` widened to round numbers, with 3 to 6 round ticks, mapped to
 * pixels `from` … `to` (for a y axis, `from` is the bottom). A single value gets a range of
 * its own around it.
 */
export function linearScale(min: number, max: number, from: number, to: number): Scale {
  let lo = min;
  let hi = max;
  if (!(hi > lo)) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 0.5;
    lo -= pad;
    hi += pad;
  }
  const step = niceStep((hi - lo) / 4);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const start = Number((Math.floor(lo / step + 1e-9) * step).toFixed(decimals));
  const stop = Number((Math.ceil(hi / step - 1e-9) * step).toFixed(decimals));
  const ticks: Tick[] = [];
  for (let v = start; v <= stop + step / 2; v += step) {
    const value = Number(v.toFixed(decimals));
    ticks.push({ value, label: value.toFixed(decimals) });
  }
  const scale = (value: number) => from + ((to - from) * (value - start)) / (stop - start);
  return Object.assign(scale, { domain: [start, stop] as const, ticks });
}

/** A linear axis over `lo` … `hi` with the ticks given, mapped to pixels `from` … `to`. */
export function fixedScale(
  lo: number,
  hi: number,
  from: number,
  to: number,
  ticks: readonly Tick[],
): Scale {
  const scale = (value: number) => from + ((to - from) * (value - lo)) / (hi - lo || 1);
  return Object.assign(scale, { domain: [lo, hi] as const, ticks });
}

/**
 * A log10 axis over positive `min` … `max` widened to powers of ten, a tick at each (`1`, `10`,
 * `100`, `1k`, `1M`): for LAMBADA's perplexity, which falls from millions at step 0 to tens.
 */
export function logScale(min: number, max: number, from: number, to: number): Scale {
  const lo = Math.floor(Math.log10(Math.max(min, Number.MIN_VALUE)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(max, min))));
  const ticks: Tick[] = [];
  for (let power = lo; power <= hi; power++) {
    ticks.push({ value: 10 ** power, label: powerLabel(power) });
  }
  const scale = (value: number) =>
    from + ((to - from) * (Math.log10(Math.max(value, Number.MIN_VALUE)) - lo)) / (hi - lo);
  return Object.assign(scale, { domain: [10 ** lo, 10 ** hi] as const, ticks });
}

/** 1, 2 or 5 × a power of ten: the round step nearest above `rough`. */
function niceStep(rough: number): number {
  const power = 10 ** Math.floor(Math.log10(rough));
  const fraction = rough / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
}

function powerLabel(power: number): string {
  if (power < 0) return String(10 ** power);
  if (power >= 9) return `${10 ** (power - 9)}G`;
  if (power >= 6) return `${10 ** (power - 6)}M`;
  if (power >= 3) return `${10 ** (power - 3)}k`;
  return String(10 ** power);
}
