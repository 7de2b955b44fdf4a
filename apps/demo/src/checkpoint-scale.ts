import { shortStep, stepOf } from './checkpoints.js';

/** Slider positions: fine enough that each of Pythia's 155 branches has its own. */
export const SLIDER_MAX = 1000;

/** Pythia's checkpoints before step 1000 are log-spaced (0, 1, 2, 4 … 512), later ones linear. */
const LOG_SPACED_BELOW = 1000;

/** The least share of the track the log-spaced checkpoints get, though Pythia has 11 of 155. */
const EARLY_SHARE = 0.35;

/** Up to this many revisions, each gets a tick; beyond, only landmarks do. */
const TICK_EACH_UP_TO = 30;

/** Steps labelled where present: round numbers of Pythia's schedule, spread along its track. */
const LANDMARK_STEPS = new Set([0, 4, 16, 64, 512, 20_000, 50_000, 100_000, 143_000]);

/** Labels closer than this (in slider positions) would overlap on a narrow screen. */
const LABEL_GAP = 70;

/** A mark under the slider, labelled where the label has room. */
export interface Tick {
  position: number;
  label?: string;
}

/** Where a repository's revisions sit on the slider, and the marks under it. */
export interface CheckpointScale {
  /** In training order (`trainingOrder` of checkpoints.ts). */
  readonly revisions: readonly string[];
  /** The slider position of each revision: 0 … {@link SLIDER_MAX}, increasing. */
  readonly positions: readonly number[];
  readonly ticks: readonly Tick[];
  /** The index of the revision nearest a slider position; -1 when there is none. */
  nearest(position: number): number;
}

/**
 * The slider's scale over a repository's own revisions. A linear scale would squeeze Pythia's
 * eleven log-spaced checkpoints before step 1000 into the first few pixels, where a pointer
 * cannot tell them apart: they get at least the first 35% of the track instead, evenly spaced,
 * and the rest share what is left. A repository with few early steps is simply spaced evenly.
 */
export function checkpointScale(revisions: readonly string[]): CheckpointScale {
  const positions = scalePositions(revisions);
  return {
    revisions,
    positions,
    ticks: scaleTicks(revisions, positions),
    nearest(position) {
      let best = -1;
      for (const [index, at] of positions.entries()) {
        if (best === -1 || Math.abs(at - position) < Math.abs(positions[best]! - position)) {
          best = index;
        }
      }
      return best;
    },
  };
}

function scalePositions(revisions: readonly string[]): number[] {
  const gaps = revisions.length - 1;
  // A lone revision sits at the end, where the trained model usually is.
  if (gaps <= 0) return revisions.map(() => SLIDER_MAX);
  const early = revisions.filter((r) => (stepOf(r) ?? Infinity) < LOG_SPACED_BELOW).length;
  const earlyGaps = Math.max(0, early - 1);
  const lateGaps = gaps - earlyGaps;
  // Never less room than an even spacing would give them.
  const share = earlyGaps === 0 ? 0 : lateGaps === 0 ? 1 : Math.max(EARLY_SHARE, earlyGaps / gaps);
  return revisions.map((_, index) => {
    const fraction =
      index <= earlyGaps && earlyGaps > 0
        ? (index / earlyGaps) * share
        : share + ((index - earlyGaps) / lateGaps) * (1 - share);
    return Math.round(fraction * SLIDER_MAX);
  });
}

/**
 * A tick per revision when there are few; else at the ends, each log-spaced step, every
 * 10,000th step and each branch that is not a step (`main`). Labels go first to the ends,
 * then to the landmark steps, then (with few revisions) to the rest, wherever they fit.
 */
function scaleTicks(revisions: readonly string[], positions: readonly number[]): Tick[] {
  const last = revisions.length - 1;
  const few = revisions.length <= TICK_EACH_UP_TO;
  const ticked = [...revisions.keys()].filter((index) => {
    const step = stepOf(revisions[index]!);
    return (
      few ||
      index === 0 ||
      index === last ||
      step === undefined ||
      step < LOG_SPACED_BELOW ||
      step % 10_000 === 0
    );
  });
  const landmark = (index: number) => LANDMARK_STEPS.has(stepOf(revisions[index]!) ?? -1);
  const byPriority = [
    ...ticked.filter((index) => index === last),
    ...ticked.filter((index) => index === 0 && index !== last),
    ...ticked.filter((index) => index !== 0 && index !== last && landmark(index)),
    ...(few ? ticked.filter((index) => index !== 0 && index !== last && !landmark(index)) : []),
  ];
  const labelled = new Set<number>();
  for (const index of byPriority) {
    const clear = [...labelled].every(
      (l) => Math.abs(positions[l]! - positions[index]!) >= LABEL_GAP,
    );
    if (clear) labelled.add(index);
  }
  return ticked.map((index) => {
    const position = positions[index]!;
    if (!labelled.has(index)) return { position };
    const step = stepOf(revisions[index]!);
    return { position, label: step === undefined ? revisions[index]! : shortStep(step) };
  });
}
