import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { officialResults, TASK_TABLE, type TaskName } from '@pythiajs/evals';
import { UsageError } from '../errors.js';
import { compareRevisions } from '../revisions.js';
import { csvLine } from '../table.js';
import { writeFileAtomic } from './atomic.js';
import { type PlotPanel, type PlotPoint, plotSvg } from './plot-svg.js';
import { type EvalResults, readResults, resultsJson, taskOrder } from './results-file.js';
import { checkpointPath, type EvalUnit, readPlans, shardOf, unitKey } from './units.js';

/** A unit's results file as merge finds it. */
export interface FoundUnit {
  path: string;
  task: TaskName;
  results: EvalResults;
}

/** What a merge wrote, and the units its plans expected but no file holds. */
export interface MergeOutcome {
  units: number;
  checkpoints: number;
  files: string[];
  /** `model@revision task`, with the shard that should have run it where a plan says. */
  missing: { unit: EvalUnit; shard?: string }[];
  /** Models given with --compare that EleutherAI published no per-checkpoint numbers for. */
  uncompared: string[];
}

/** Every unit results file under `dir` (`DIR/<model>/<revision>/<task>.json`). */
export async function findUnits(dir: string): Promise<FoundUnit[]> {
  const found: FoundUnit[] = [];
  const folders = async (path: string) =>
    (await readdir(path, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory());
  for (const model of await folders(dir)) {
    if (model.name === 'plots' || model.name === 'plans') continue;
    for (const revision of await folders(join(dir, model.name))) {
      const base = join(dir, model.name, revision.name);
      for (const name of (await readdir(base)).sort()) {
        const task = name.replace(/\.json$/, '') as TaskName;
        if (!name.endsWith('.json') || !(task in TASK_TABLE)) continue;
        const results = await readResults(join(base, name));
        if (results?.results[task]) found.push({ path: join(base, name), task, results });
      }
    }
  }
  return found;
}

const stepOf = (r: EvalResults) => r.pythiajs.step;

/**
 * Combines the unit files under `dir`: per checkpoint `DIR/<model>/<revision>.json` with all its
 * tasks (the harness's format), `DIR/results.csv` (one row per model, revision, task and metric)
 * and per task `DIR/plots/<task>.svg` (each metric against the training step; with `compare`,
 * EleutherAI's official numbers for the same models, dashed). Units that a plan in `DIR/plans/`
 * expected but no file holds are returned as `missing`; what exists is written regardless.
 *
 * @throws {UsageError} `dir` holds no results, or a checkpoint's tasks were run with different
 *   `--limit`s (the harness's JSON has one).
 */
export async function mergeResults(
  dir: string,
  options: { compare?: boolean } = {},
): Promise<MergeOutcome> {
  if (!(await stat(dir).catch(() => undefined))?.isDirectory())
    throw new UsageError(`${dir} is not a folder; give the --output-dir of pythia eval`);
  const units = await findUnits(dir);
  if (units.length === 0)
    throw new UsageError(
      `${dir} holds no results of pythia eval (DIR/<model>/<revision>/<task>.json); give the --output-dir of a run`,
    );
  // By checkpoint, in a stable order: model, then training order, then the task table's.
  const models = [...new Set(units.map((u) => u.results.pythiajs.model))].sort();
  const byCheckpoint = new Map<string, FoundUnit[]>();
  for (const u of units) {
    const key = `${u.results.pythiajs.model}\u0000${u.results.pythiajs.revision}`;
    byCheckpoint.set(key, [...(byCheckpoint.get(key) ?? []), u]);
  }
  const checkpoints = [...byCheckpoint.values()]
    .map((list) => list.sort((a, b) => taskOrder(a.task, b.task)))
    .sort((a, b) => {
      const [pa, pb] = [a[0]!.results.pythiajs, b[0]!.results.pythiajs];
      if (pa.model !== pb.model) return models.indexOf(pa.model) - models.indexOf(pb.model);
      return compareRevisions(pa.revision, pb.revision);
    });

  const files: string[] = [];
  const csv = [csvLine(['model', 'revision', 'step', 'task', 'metric', 'value', 'stderr'])];
  const points = new Map<TaskName, PlotPoint[]>();
  for (const list of checkpoints) {
    const first = list[0]!.results;
    const limits = new Set(list.map((u) => u.results.config.limit ?? null));
    if (limits.size > 1)
      throw new UsageError(
        `the tasks of ${first.pythiajs.model}@${first.pythiajs.revision} were run with different --limit (${list
          .map((u) => `${u.path}: ${u.results.config.limit ?? 'none'}`)
          .join(', ')}); rerun them with one --limit`,
      );
    const combined: EvalResults = {
      results: {},
      versions: {},
      config: { ...first.config },
      pythiajs: {
        ...first.pythiajs,
        datasets: {},
        documents: {},
        seconds: {},
      },
    };
    for (const { task, results } of list) {
      combined.results[task] = results.results[task]!;
      combined.versions[task] = results.versions[task] ?? 0;
      combined.pythiajs.datasets[task] = results.pythiajs.datasets[task]!;
      combined.pythiajs.documents[task] = results.pythiajs.documents[task]!;
      combined.pythiajs.seconds[task] = results.pythiajs.seconds[task]!;
      const step = stepOf(results);
      for (const metric of TASK_TABLE[task].metrics) {
        const value = results.results[task]![metric.name]!;
        const stderr = results.results[task]![`${metric.name}_stderr`];
        csv.push(
          csvLine([
            results.pythiajs.model,
            results.pythiajs.revision,
            step ?? '',
            task,
            metric.name,
            value,
            stderr ?? '',
          ]),
        );
        if (step !== null)
          points.set(task, [
            ...(points.get(task) ?? []),
            {
              model: results.pythiajs.model,
              metric: metric.name,
              step,
              value,
              ...(stderr !== undefined ? { stderr } : {}),
              source: 'pythiajs',
            },
          ]);
      }
    }
    const path = checkpointPath(
      dir,
      first.pythiajs.model,
      first.pythiajs.revision,
      first.pythiajs.commit === 'local',
    );
    await writeFileAtomic(path, resultsJson(combined));
    files.push(path);
  }
  await writeFileAtomic(join(dir, 'results.csv'), csv.join(''));
  files.push(join(dir, 'results.csv'));

  // Official numbers for the same models, where EleutherAI published them.
  const uncompared: string[] = [];
  if (options.compare) {
    for (const model of models) {
      const official = officialResults(model);
      if (official.length === 0) uncompared.push(model);
      for (const checkpoint of official) {
        for (const [task, values] of Object.entries(checkpoint.results) as [
          TaskName,
          Record<string, number>,
        ][]) {
          if (!points.has(task)) continue;
          for (const metric of TASK_TABLE[task].metrics) {
            const value = values[metric.name];
            if (value === undefined) continue;
            const stderr = values[`${metric.name}_stderr`];
            points.get(task)!.push({
              model,
              metric: metric.name,
              step: checkpoint.step,
              value,
              ...(stderr !== undefined ? { stderr } : {}),
              source: 'official',
            });
          }
        }
      }
    }
  }
  for (const [task, list] of [...points.entries()].sort(([a], [b]) => taskOrder(a, b))) {
    const path = join(dir, 'plots', `${task}.svg`);
    await writeFileAtomic(path, plotSvg(`${task} by training step`, panelsOf(task), list));
    files.push(path);
  }

  // What the plans expected and no file holds.
  const present = new Set(
    units.map((u) =>
      unitKey({
        model: u.results.pythiajs.model,
        revision: u.results.pythiajs.revision,
        task: u.task,
      }),
    ),
  );
  const missing = new Map<string, { unit: EvalUnit; shard?: string }>();
  for (const plan of await readPlans(dir)) {
    plan.units.forEach((unit, at) => {
      const key = unitKey(unit);
      if (present.has(key) || missing.has(key)) return;
      missing.set(key, {
        unit,
        ...(plan.shards
          ? { shard: `${shardOf(at, plan.units.length, plan.shards)}/${plan.shards}` }
          : {}),
      });
    });
  }
  return {
    units: units.length,
    checkpoints: checkpoints.length,
    files,
    missing: [...missing.values()],
    uncompared,
  };
}

/** A task's panels: LAMBADA's accuracy and its perplexity (log scale); the others' accuracies. */
export function panelsOf(task: TaskName): PlotPanel[] {
  const metrics = TASK_TABLE[task].metrics.map((m) => m.name);
  const linear = metrics.filter((m) => m !== 'ppl');
  const panels: PlotPanel[] = [
    { title: `${task}: ${linear.join(', ')}`, metrics: linear, scale: 'linear' },
  ];
  if (metrics.includes('ppl'))
    panels.push({ title: `${task}: perplexity`, metrics: ['ppl'], scale: 'log' });
  return panels;
}
