/** The training step of a checkpoint branch (`step3000` → 3000). */
export function stepOf(revision: string): number | undefined {
  const match = /^step(\d+)$/.exec(revision);
  return match ? Number(match[1]) : undefined;
}

/** `0`, `512`, `1k`, `143k`: short enough for the slider's scale. */
export function shortStep(step: number): string {
  return step >= 1000 && step % 1000 === 0 ? `${step / 1000}k` : String(step);
}

/**
 * A repository's branches in training order: the `step…` branches by step (`step2` before
 * `step1000`, which a sort by name would not do), then `main`, the trained model, then any
 * other branch alphabetically. Each name once.
 */
export function trainingOrder(branches: readonly string[]): string[] {
  const unique = [...new Set(branches)];
  const steps = unique
    .filter((b) => stepOf(b) !== undefined)
    .sort((a, b) => stepOf(a)! - stepOf(b)! || a.localeCompare(b));
  const others = unique.filter((b) => stepOf(b) === undefined && b !== 'main').sort();
  return [...steps, ...(unique.includes('main') ? ['main'] : []), ...others];
}

/**
 * Revisions for "across training": of the branches a repo has, up to `count` spread over
 * training (first and last always), oldest first, then `main` (or, without it, one other
 * branch), as the trained model.
 */
export function spreadOverTraining(branches: readonly string[], count: number): string[] {
  const ordered = trainingOrder(branches);
  const steps = ordered.filter((b) => stepOf(b) !== undefined);
  const trained = ordered.find((b) => stepOf(b) === undefined);
  const all = trained === undefined ? steps : [...steps, trained];
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
