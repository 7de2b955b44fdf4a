import { pythiaModel } from '@pythiajs/checkpoint-hub';
import { officialResults, TASK_NAMES, TASK_TABLE, type TaskName } from '@pythiajs/evals';
import { stepOf } from './checkpoints.js';

/** Examples a live run scores unless the visitor asks for another number. */
export const DEFAULT_EXAMPLES = 50;
/** At least two: a standard error needs two values. */
export const MIN_EXAMPLES = 2;
/** At most this many: a live run is a taste of a task, not the whole of it. */
export const MAX_EXAMPLES = 200;

/** Pythia's last checkpoint: `main` of every model in the suite is `step143000`. */
export const PYTHIA_LAST_STEP = 143_000;

/** The tasks in the order the panel offers them, with the names papers give them. */
export const TASK_LABELS: { readonly [task in TaskName]: string } = {
  lambada_openai: 'LAMBADA (OpenAI)',
  piqa: 'PIQA',
  arc_easy: 'ARC-Easy',
  arc_challenge: 'ARC-Challenge',
  sciq: 'SciQ',
  logiqa: 'LogiQA',
  winogrande: 'WinoGrande',
  wsc: 'WSC',
};

export const EVAL_TASKS: readonly TaskName[] = TASK_NAMES;

/** A task's metrics, `acc` first (every task has it), then `acc_norm` or `ppl` where it has one. */
export function taskMetrics(task: TaskName): string[] {
  const names = TASK_TABLE[task].metrics.map((m) => m.name);
  return [...names.filter((n) => n === 'acc'), ...names.filter((n) => n !== 'acc')];
}

/** What a metric is called in the panel. */
export function metricLabel(metric: string): string {
  switch (metric) {
    case 'acc':
      return 'accuracy (acc)';
    case 'acc_norm':
      return 'length-normalised accuracy (acc_norm)';
    case 'ppl':
      return 'perplexity (ppl, lower is better)';
    default:
      return metric;
  }
}

/** The number of examples to run: a whole number within {@link MIN_EXAMPLES} … {@link MAX_EXAMPLES}. */
export function clampExamples(value: number): number {
  if (!Number.isFinite(value)) return DEFAULT_EXAMPLES;
  return Math.min(MAX_EXAMPLES, Math.max(MIN_EXAMPLES, Math.round(value)));
}

/** One checkpoint's official value of a metric, and its standard error. */
export interface OfficialPoint {
  step: number;
  value: number;
  stderr: number | undefined;
}

/** EleutherAI's published value of `task`'s `metric` at each checkpoint of `repo`, by step. */
export function officialCurve(repo: string, task: TaskName, metric: string): OfficialPoint[] {
  return officialResults(repo).flatMap((result) => {
    const metrics = result.results[task];
    const value = metrics?.[metric];
    if (value === undefined) return [];
    return [{ step: result.step, value, stderr: metrics?.[`${metric}_stderr`] }];
  });
}

/**
 * The training step of a revision: `step3000` is 3000, and `main` of a Pythia model is its last
 * checkpoint, 143000. Anything else (a commit, `main` of another repository) has none.
 */
export function trainingStep(repo: string, revision: string): number | undefined {
  return (
    stepOf(revision) ?? (revision === 'main' && pythiaModel(repo) ? PYTHIA_LAST_STEP : undefined)
  );
}

/** Which official number a live result is compared with. */
export type Comparison =
  /** The model has no official results at all. */
  | { kind: 'no-official' }
  /** The revision is not a training step (a commit, a branch of another repository). */
  | { kind: 'no-step' }
  /** An official checkpoint is the loaded one. */
  | { kind: 'same'; point: OfficialPoint }
  /** No official number at this step: the official checkpoints either side of it. */
  | { kind: 'nearest'; before?: OfficialPoint; after?: OfficialPoint };

/** The official point to set beside a live result at `step` on `curve`. */
export function compareWithOfficial(
  curve: readonly OfficialPoint[],
  step: number | undefined,
): Comparison {
  if (curve.length === 0) return { kind: 'no-official' };
  if (step === undefined) return { kind: 'no-step' };
  const same = curve.find((p) => p.step === step);
  if (same) return { kind: 'same', point: same };
  const before = curve.filter((p) => p.step < step).at(-1);
  const after = curve.find((p) => p.step > step);
  return { kind: 'nearest', ...(before ? { before } : {}), ...(after ? { after } : {}) };
}

/** A metric's value as the panel prints it: accuracies to 2 decimals, perplexities to 3 digits. */
export function formatMetric(metric: string, value: number): string {
  if (metric !== 'ppl') return value.toFixed(2);
  return value >= 1000 ? Math.round(value).toLocaleString('en') : value.toPrecision(3);
}

/** `step 3000`, `main, step 143000`, or the revision itself where it is not a step. */
export function describeRevision(revision: string, step: number | undefined): string {
  if (step === undefined) return revision;
  return stepOf(revision) === step ? `step ${step}` : `${revision}, step ${step}`;
}

/** A live run's result of one metric. */
export interface LiveValue {
  repo: string;
  revision: string;
  step: number | undefined;
  task: TaskName;
  metric: string;
  value: number;
  stderr: number;
  /** How many examples were scored. */
  examples: number;
}

/**
 * The live result in one line, beside the official number it compares with:
 * `acc 0.34 ± 0.07 on 50 examples at step 3000 (official, all 1838 examples: 0.31)`.
 */
export function summaryText(live: LiveValue, comparison: Comparison): string {
  const { metric } = live;
  const all = TASK_TABLE[live.task].documents;
  const head =
    `${metric} ${formatMetric(metric, live.value)} ± ${formatMetric(metric, live.stderr)} on ` +
    `${live.examples} example${live.examples === 1 ? '' : 's'} at ${describeRevision(live.revision, live.step)}`;
  const at = (p: OfficialPoint) => `step ${p.step}: ${formatMetric(metric, p.value)}`;
  switch (comparison.kind) {
    case 'no-official':
      return `${head} (${live.repo} has no official numbers to compare with)`;
    case 'no-step':
      return `${head} (not a training step, so no official number to compare with)`;
    case 'same':
      return `${head} (official, all ${all} examples: ${formatMetric(metric, comparison.point.value)})`;
    case 'nearest': {
      const near = [comparison.before, comparison.after].filter(
        (p): p is OfficialPoint => p !== undefined,
      );
      return (
        `${head} (no official number at step ${live.step}; nearest official, all ${all} ` +
        `examples: ${near.map(at).join(', ')})`
      );
    }
  }
}

/**
 * Why a live run's number is not the official one, in a sentence: it scores a sample, whose
 * standard error is the ± given, and only a difference well beyond it means anything.
 */
export function noiseText(live: LiveValue): string {
  const all = TASK_TABLE[live.task].documents;
  return (
    `${live.examples} of ${all} examples is a noisy estimate: ± is one standard error, and the ` +
    `value over all ${all} often differs from it by that much, by more than twice that about one ` +
    `time in twenty. A difference from the official number smaller than about ` +
    `${formatMetric(live.metric, 2 * live.stderr)} says nothing.`
  );
}

/** What the panel says about the official curve of a model, or about its having none. */
export function officialNote(repo: string, task: TaskName, metric: string): string {
  const curve = officialCurve(repo, task, metric);
  const name = repo.replace(/^EleutherAI\//, '');
  if (curve.length === 0) {
    return (
      `EleutherAI published no per-checkpoint results for ${repo}: they cover pythia-70m, ` +
      'pythia-160m and pythia-410m and their -deduped twins. A live run still works here.'
    );
  }
  return (
    `EleutherAI's results for ${name} at ${curve.length} checkpoints ` +
    `(lm-evaluation-harness v0.3.0, zero-shot, all ${TASK_TABLE[task].documents} examples).`
  );
}
