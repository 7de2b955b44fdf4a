import { pythiaCheckpoints } from '@pythiajs/checkpoint-hub';

/** The 154 training checkpoints every Pythia repo publishes, in training order. */
export const CHECKPOINTS: readonly string[] = pythiaCheckpoints();

/** `main` is the last checkpoint, `step143000`, under its usual name. */
const MAIN_INDEX = CHECKPOINTS.length - 1;

/** The slider position of a revision: its checkpoint, `main` at the end, anything else unknown. */
export function checkpointIndex(revision: string): number | undefined {
  if (revision === 'main') return MAIN_INDEX;
  const index = CHECKPOINTS.indexOf(revision);
  return index === -1 ? undefined : index;
}

/** The training step of a checkpoint branch (`step3000` → 3000). */
export function stepOf(revision: string): number | undefined {
  const match = /^step(\d+)$/.exec(revision);
  return match ? Number(match[1]) : undefined;
}

/** `0`, `512`, `1k`, `143k`: short enough for the slider's scale. */
export function shortStep(step: number): string {
  return step >= 1000 && step % 1000 === 0 ? `${step / 1000}k` : String(step);
}

/** Slider positions: fine enough that every checkpoint has its own. */
export const SLIDER_MAX = 1000;

/** The log-spaced checkpoints before step 1000: `step0`, `step1` … `step512`. */
const EARLY = CHECKPOINTS.filter((revision) => stepOf(revision)! < 1000).length;

/** Share of the slider's track the early checkpoints get, though they are 11 of 154. */
const EARLY_SHARE = 0.35;

/**
 * Where checkpoint `index` sits on the slider (0 … {@link SLIDER_MAX}). A linear scale would
 * squeeze the eleven log-spaced checkpoints before step 1000 into the first few pixels, where
 * a pointer cannot tell them apart; they get the first third of the track instead, evenly
 * spaced, and the 143 checkpoints from step 1000 on share the rest.
 */
export function sliderPosition(index: number): number {
  const late = CHECKPOINTS.length - EARLY;
  const fraction =
    index < EARLY
      ? (index / (EARLY - 1)) * EARLY_SHARE
      : EARLY_SHARE + ((index - EARLY + 1) / late) * (1 - EARLY_SHARE);
  return Math.round(fraction * SLIDER_MAX);
}

/** The checkpoint nearest a slider position. */
export function checkpointAt(position: number): number {
  let best = 0;
  for (let index = 1; index < CHECKPOINTS.length; index++) {
    if (Math.abs(sliderPosition(index) - position) < Math.abs(sliderPosition(best) - position)) {
      best = index;
    }
  }
  return best;
}

/**
 * Marks under the slider: every early checkpoint and every 10,000th step, labelled where the
 * labels do not collide.
 */
export function sliderTicks(): Array<{ position: number; label?: string }> {
  const labelled = new Set([0, 4, 16, 64, 512, 20_000, 50_000, 100_000, 143_000]);
  return CHECKPOINTS.flatMap((revision, index) => {
    const step = stepOf(revision)!;
    if (step >= 1000 && step % 10_000 !== 0 && step !== 143_000) return [];
    const position = sliderPosition(index);
    return [labelled.has(step) ? { position, label: shortStep(step) } : { position }];
  });
}

/**
 * Revisions for "across training": of the branches a repo has, up to `count` spread over
 * training (first and last always), oldest first, then `main` (or, without it, one other
 * branch), as the trained model.
 */
export function spreadOverTraining(branches: readonly string[], count: number): string[] {
  const steps = [...new Set(branches)]
    .filter((b) => stepOf(b) !== undefined)
    .sort((a, b) => stepOf(a)! - stepOf(b)!);
  const others = branches.filter((b) => stepOf(b) === undefined).sort();
  const all = [...steps, ...(others.includes('main') ? ['main'] : others.slice(0, 1))];
  if (all.length <= count) return all;
  const picked = new Set<number>();
  for (let i = 0; i < count; i++) picked.add(Math.round((i * (all.length - 1)) / (count - 1)));
  return [...picked].sort((a, b) => a - b).map((i) => all[i]!);
}

/**
 * The default "across training" set for a Pythia model: log-spaced through training, as the
 * models change fastest early on. Each is a full checkpoint download.
 */
export const SUITE_ACROSS_TRAINING: readonly string[] = [
  'step0',
  'step64',
  'step512',
  'step4000',
  'step32000',
  'step143000',
];
