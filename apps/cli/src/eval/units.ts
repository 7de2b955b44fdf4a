import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { TaskName } from '@pythiajs/evals';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';

/** One piece of work: a task on a checkpoint. */
export interface EvalUnit {
  /** The Hub repo (`EleutherAI/pythia-70m`), or a checkpoint folder's absolute path. */
  model: string;
  /** A branch or commit; `local` for a folder. */
  revision: string;
  task: TaskName;
}

/** `--shard i/n`: the i-th of n (0-based, as `$SLURM_ARRAY_TASK_ID` and `$JOB_COMPLETION_INDEX`). */
export interface Shard {
  index: number;
  count: number;
}

export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || !Number.isSafeInteger(index) || !Number.isSafeInteger(count))
    throw new UsageError(
      `--shard takes i/n, 0-based (0/4 … 3/4, as $SLURM_ARRAY_TASK_ID with --array=0-3), not "${text}"`,
    );
  if (count < 1) throw new UsageError(`--shard ${text}: n must be at least 1`);
  if (index >= count)
    throw new UsageError(
      `--shard ${text}: i must be below n (shards are numbered 0 … ${count - 1}, as $SLURM_ARRAY_TASK_ID with --array=0-${count - 1})`,
    );
  return { index, count };
}

/**
 * The contiguous block of units shard i of n runs: units ⌊i·U/n⌋ … ⌊(i+1)·U/n⌋ − 1. Units are
 * ordered model → revision → task, so a shard loads each of its checkpoints once for all the
 * tasks it runs there; every unit falls in exactly one shard, whatever U and n.
 */
export function shardRange(total: number, shard: Shard): { start: number; end: number } {
  return {
    start: Math.floor((shard.index * total) / shard.count),
    end: Math.floor(((shard.index + 1) * total) / shard.count),
  };
}

/** The shard (of `count`) that runs unit number `at` of `total`. */
export function shardOf(at: number, total: number, count: number): number {
  for (let index = 0; index < count; index++) {
    const { start, end } = shardRange(total, { index, count });
    if (at >= start && at < end) return index;
  }
  return count - 1;
}

/** The step of a revision (`step1000` → 1000); null for `main`, commits and folders. */
export function revisionStep(revision: string): number | null {
  const m = /^step(\d+)$/.exec(revision);
  return m ? Number(m[1]) : null;
}

/**
 * A model's folder in the output: the repo's name for EleutherAI's (`pythia-70m`), `owner--name`
 * for others, a checkpoint folder's own name.
 */
export function modelFolder(model: string, local: boolean): string {
  if (local) return basename(model);
  const [owner, name] = model.split('/');
  return owner === 'EleutherAI' && name ? name : model.replace('/', '--');
}

/** `DIR/<model>/<revision>/<task>.json`. */
export function unitPath(dir: string, unit: EvalUnit, local: boolean): string {
  return join(
    dir,
    modelFolder(unit.model, local),
    safeRevision(unit.revision),
    `${unit.task}.json`,
  );
}

/** `DIR/<model>/<revision>.json`: all of a checkpoint's tasks. */
export function checkpointPath(dir: string, model: string, revision: string, local: boolean) {
  return join(dir, modelFolder(model, local), `${safeRevision(revision)}.json`);
}

// A branch may hold `/` (refs/pr/1): one folder level per revision.
function safeRevision(revision: string): string {
  return revision.replaceAll('/', '--');
}

/** What a run set out to do, written to `DIR/plans/` so that `merge` can name what is missing. */
export interface EvalPlan {
  units: EvalUnit[];
  /** `n` of `--shard i/n`; null for an unsharded run. */
  shards: number | null;
}

/**
 * Records a plan as `DIR/plans/<hash>.json`: the shards of one command (same units, same n)
 * write the same file, so concurrent jobs agree; another command adds a file of its own.
 */
export async function writePlan(dir: string, plan: EvalPlan): Promise<void> {
  const text = `${JSON.stringify(plan, null, 1)}\n`;
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  await mkdir(join(dir, 'plans'), { recursive: true });
  await writeFileAtomic(join(dir, 'plans', `${hash}.json`), text);
}

/** Every plan recorded in `dir`. */
export async function readPlans(dir: string): Promise<EvalPlan[]> {
  const names = await readdir(join(dir, 'plans')).catch(() => [] as string[]);
  const plans: EvalPlan[] = [];
  for (const name of names.sort()) {
    if (!name.endsWith('.json')) continue;
    try {
      const plan = JSON.parse(await readFile(join(dir, 'plans', name), 'utf8')) as EvalPlan;
      if (Array.isArray(plan.units)) plans.push(plan);
    } catch {
      // A plan cut short (a job killed while writing) names nothing.
    }
  }
  return plans;
}

export const unitKey = (unit: Pick<EvalUnit, 'model' | 'revision' | 'task'>) =>
  `${unit.model}@${unit.revision} ${unit.task}`;
