import { resolve } from 'node:path';
import { NodeHubCache } from '@pythiajs/checkpoint-hub/node';
import {
  HARNESS_LOGIT_COLUMNS,
  harnessResults,
  type LoglikelihoodTokens,
  TASK_NAMES,
  TASK_TABLE,
  TASKS,
  type TaskName,
} from '@pythiajs/evals';
import {
  checkTokenIds,
  type NeoXConfig,
  resolveModelSource,
  type WeightDtype,
} from '@pythiajs/neox-model';
import type { Tokenizer } from '@pythiajs/tokenizer';
import { type Command, Option } from 'commander';
import { addBatchSizeOption, batchSize } from '../batch-size.js';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../eval/atomic.js';
import { type DatasetSource, fileTaskRows, hubTaskRows, type TaskRows } from '../eval/datasets.js';
import { CheckpointKeeper, type KeepPolicy } from '../eval/keep.js';
import { type MergeOutcome, mergeResults } from '../eval/merge.js';
import {
  type EvalResults,
  readResults,
  resultsJson,
  type UnitSettings,
  unitMismatch,
} from '../eval/results-file.js';
import { type PosedTask, poseTask, requestWindows, scoreTask } from '../eval/score-task.js';
import {
  type EvalUnit,
  parseShard,
  revisionStep,
  shardRange,
  unitPath,
  writePlan,
} from '../eval/units.js';
import { integerOption } from '../input.js';
import type { MemoryUse } from '../memory-check.js';
import {
  addModelOptions,
  DEFAULT_MODEL,
  loadModel,
  type ModelOptions,
  type ModelTarget,
  sharedDevice,
} from '../model-options.js';
import { countBar } from '../progress.js';
import { cachedCheckpoints, repoCheckpoints, trainingOrder } from '../revisions.js';
import { warn } from '../style.js';
import { formatTable } from '../table.js';
import { modelTokenizer } from '../tokenizer.js';

interface EvalOptions extends Omit<ModelOptions, 'model'> {
  model: string | string[];
  revisions?: string;
  outputDir?: string;
  limit?: number;
  file?: string;
  compare?: boolean;
  keep?: KeepPolicy;
  shard?: string;
  batchSize?: number;
}

/** A model of the run: a Hub repo with its revisions, or a checkpoint folder. */
interface EvalModel {
  /** The Hub repo, or the folder's absolute path. */
  model: string;
  local: boolean;
  revisions: string[];
  /** The folder's target (its store); Hub checkpoints share the run's cache. */
  folder?: ModelTarget;
}

export function registerEval(program: Command): void {
  const evaluate = program
    .command('eval')
    .description(
      "the model card's benchmarks as lm-evaluation-harness v0.3.0 ran them, on one checkpoint " +
        "or a sweep; writes the harness's results JSON (tasks: " +
        `${TASK_NAMES.join(', ')})`,
    )
    .argument('<task...>', `tasks: ${TASK_NAMES.join(', ')}`)
    .option(
      '--revisions <list>',
      'checkpoints: step0,step1000,…,main, or all (every stepN branch of the repo); default main',
    )
    .option(
      '--output-dir <dir>',
      'write DIR/<model>/<revision>/<task>.json per unit (resumable), then per checkpoint ' +
        'DIR/<model>/<revision>.json, DIR/results.csv and DIR/plots/<task>.svg; a sweep needs it',
    )
    .option(
      '--limit <n>',
      "only the first n documents of each task's shuffled order (as the harness's --limit)",
      integerOption('limit', 2),
    )
    .option(
      '--file <path>',
      "the task's documents from a local .jsonl, .json or .parquet file in its Hub dataset's schema (one task)",
    )
    .option('--compare', "draw EleutherAI's official numbers for the same models in the plots")
    .addOption(
      new Option(
        '--keep <which>',
        'downloaded checkpoints kept in the Hub cache: all; last (each removed once the next is ' +
          'done); none (each removed when done). Only checkpoints this run downloaded are removed. ' +
          'Default: all for one checkpoint, last for a sweep',
      ).choices(['all', 'last', 'none']),
    )
    .option(
      '--shard <i/n>',
      'run the i-th of n contiguous blocks of the (model, revision, task) units, 0-based ' +
        '($SLURM_ARRAY_TASK_ID, $JOB_COMPLETION_INDEX); then pythia eval merge DIR',
    );
  addBatchSizeOption(evaluate, 'documents');
  addModelOptions(evaluate);
  // --model may be given several times, or as a comma-separated list.
  const modelOption = evaluate.options.find((o) => o.long === '--model')!;
  modelOption.description =
    'Hub repo, local checkpoint folder, or pythia-70m@step3000; repeat it or separate with commas for several';
  modelOption.argParser((value: string, previous: string | string[]) =>
    typeof previous === 'string' ? [value] : [...previous, value],
  );
  evaluate.action((tasks: string[], options: EvalOptions) => runEval(tasks, options));

  evaluate
    .command('merge')
    .description(
      'combine the unit files of an --output-dir (the shards of a job array, say): per-checkpoint ' +
        'JSON, results.csv, plots; exits 1, after writing, when units its runs planned are missing',
    )
    .argument('<dir>', 'the --output-dir of pythia eval')
    .option('--compare', "draw EleutherAI's official numbers for the same models in the plots")
    .action(async (dir: string, options: { compare?: boolean }) => {
      // `eval` has a --compare of its own, which takes the flag wherever it stands.
      const compare = options.compare === true || evaluate.opts().compare === true;
      const outcome = await mergeResults(dir, { compare });
      reportMerge(dir, outcome, { final: true });
    });
}

/** The task names, checked; duplicates dropped. */
function parseTasks(names: readonly string[]): TaskName[] {
  const tasks: TaskName[] = [];
  for (const name of names.flatMap((n) => n.split(',')).filter((n) => n !== '')) {
    if (!(TASK_NAMES as string[]).includes(name)) {
      const like = TASK_NAMES.find((t) => t.startsWith(name) || name.startsWith(t));
      throw new UsageError(
        `unknown task "${name}"${like ? ` (did you mean ${like}?)` : ''}; the tasks are ${TASK_NAMES.join(', ')}`,
      );
    }
    if (!tasks.includes(name as TaskName)) tasks.push(name as TaskName);
  }
  if (tasks.length === 0) throw new UsageError(`name a task: ${TASK_NAMES.join(', ')}`);
  return tasks;
}

function listRevisions(text: string): string[] {
  return trainingOrder([
    ...new Set(
      text
        .split(',')
        .map((r) => r.trim())
        .filter((r) => r !== ''),
    ),
  ]);
}

/** The models of `--model` with their revisions (`--revisions all` asks the Hub, or the cache offline). */
async function resolveModels(options: EvalOptions, store: NodeHubCache): Promise<EvalModel[]> {
  const refs = (Array.isArray(options.model) ? options.model : [options.model ?? DEFAULT_MODEL])
    .flatMap((m) => m.split(','))
    .map((m) => m.trim())
    .filter((m) => m !== '');
  if (refs.length === 0) throw new UsageError('--model names no model');
  if (options.revision !== undefined && options.revisions !== undefined)
    throw new UsageError('give --revisions (the sweep) or --revision (one checkpoint), not both');
  const spec = options.revisions ?? options.revision;
  const models: EvalModel[] = [];
  for (const ref of refs) {
    const target = await resolveModelSource(ref, { environment: 'node' });
    if (target.local) {
      if (spec !== undefined)
        throw new UsageError(
          `${ref} is a local folder (its only revision is local); --revisions applies to Hub repos`,
        );
      const path = resolve(target.repo);
      models.push({
        model: path,
        local: true,
        revisions: ['local'],
        folder: { ...target, repo: path },
      });
      continue;
    }
    let revisions: string[];
    if (ref.includes('@')) {
      if (spec !== undefined)
        throw new UsageError(
          `${ref} names its revision; give the revisions with --model or with --revisions, not both`,
        );
      revisions = [target.revision];
    } else if (spec?.trim() === 'all') {
      revisions = store.offline
        ? await cachedCheckpoints(store, target.repo)
        : await repoCheckpoints(target.repo);
      if (revisions.length === 0)
        throw new UsageError(
          store.offline
            ? `offline (HF_HUB_OFFLINE=1), the cache holds no stepN checkpoint of ${target.repo}`
            : `${target.repo} has no branches`,
        );
    } else {
      revisions = listRevisions(spec ?? 'main');
      if (revisions.length === 0) throw new UsageError('--revisions names no checkpoint');
    }
    if (!models.some((m) => m.model === target.repo))
      models.push({ model: target.repo, local: false, revisions });
  }
  return models;
}

const modelArgs = (model: EvalModel, revision: string) =>
  model.local ? `pretrained=${model.model}` : `pretrained=${model.model},revision=${revision}`;

async function runEval(taskNames: string[], options: EvalOptions): Promise<void> {
  const tasks = parseTasks(taskNames);
  if (options.file !== undefined && tasks.length !== 1)
    throw new UsageError(
      `--file holds the documents of one task; ${tasks.length} were named (${tasks.join(', ')})`,
    );
  const shard = options.shard === undefined ? undefined : parseShard(options.shard);
  const dir = options.outputDir;
  const sweepSpec =
    (Array.isArray(options.model) &&
      options.model.flatMap((m) => m.split(',')).filter((m) => m.trim()).length > 1) ||
    (options.revisions !== undefined &&
      (options.revisions.trim() === 'all' || listRevisions(options.revisions).length > 1));
  if (dir === undefined) {
    if (sweepSpec)
      throw new UsageError(
        'a sweep (several checkpoints or models) writes its results to files: give --output-dir',
      );
    if (shard) throw new UsageError('--shard writes to a shared folder: give --output-dir');
    if (options.compare) throw new UsageError('--compare draws plots: give --output-dir');
  }

  const store = new NodeHubCache();
  const models = await resolveModels(options, store);
  const units: EvalUnit[] = models.flatMap((m) =>
    m.revisions.flatMap((revision) => tasks.map((task) => ({ model: m.model, revision, task }))),
  );
  const checkpoints = models.reduce((n, m) => n + m.revisions.length, 0);
  if (dir === undefined && checkpoints > 1)
    throw new UsageError(
      'a sweep (several checkpoints or models) writes its results to files: give --output-dir',
    );
  const keep: KeepPolicy = options.keep ?? (checkpoints > 1 ? 'last' : 'all');
  const range = shard ? shardRange(units.length, shard) : { start: 0, end: units.length };
  const mine = units.slice(range.start, range.end);
  const modelOf = (name: string) => models.find((m) => m.model === name)!;

  // The documents of every task this run scores, read (and checked) before any model loads.
  const limit = options.limit ?? null;
  const datasets = new Map<TaskName, TaskRows & { posed: PosedTask }>();
  for (const task of new Set(mine.map((u) => u.task))) {
    const rows =
      options.file !== undefined
        ? await fileTaskRows(task, options.file)
        : await hubTaskRows(task, store);
    const fail = (message: string) =>
      options.file !== undefined
        ? new UsageError(`--file ${options.file}: ${message}`)
        : new Error(`dataset ${TASK_TABLE[task].hub.repo}: ${message}`);
    const posed = poseTask(task, rows.rows, limit, fail);
    if (posed.documents.length < 2)
      throw new UsageError(
        `${task} has ${posed.documents.length} document${limit !== null ? ' within --limit' : ''}; its standard errors need 2 or more`,
      );
    datasets.set(task, { ...rows, posed });
  }
  const settings = (unit: EvalUnit): UnitSettings => ({
    limit,
    dataset: datasets.get(unit.task)!.source,
    dtype: options.dtype,
    modelArgs: modelArgs(modelOf(unit.model), unit.revision),
  });

  // Resume: a unit whose file exists (made with the same settings) is done.
  let pending = mine;
  if (dir !== undefined) {
    pending = [];
    for (const unit of mine) {
      const path = unitPath(dir, unit, modelOf(unit.model).local);
      const found = await readResults(path);
      if (!found) {
        pending.push(unit);
        continue;
      }
      const problem = unitMismatch(path, found, unit.task, settings(unit));
      if (problem) throw new UsageError(problem);
    }
    // Recorded once the run is known to be valid, so that merge can name what is missing.
    await writePlan(dir, { units, shards: shard?.count ?? null });
    const done = mine.length - pending.length;
    if (done > 0)
      process.stderr.write(
        `${done} of ${mine.length} units ${shard ? `of shard ${shard.index}/${shard.count} ` : ''}already done in ${dir}; running ${pending.length}\n`,
      );
  }

  const keeper = await CheckpointKeeper.start(store, keep);
  const device = sharedDevice(options);
  const tokenizers = new Map<string, Promise<Tokenizer>>();
  const windowCache = new Map<string, LoglikelihoodTokens[][]>();
  const collected: EvalResults[] = [];
  let finished = 0;
  try {
    for (let at = 0; at < pending.length; ) {
      // The pending units of one checkpoint: one load for all its tasks.
      const { model: name, revision } = pending[at]!;
      let end = at;
      while (
        end < pending.length &&
        pending[end]!.model === name &&
        pending[end]!.revision === revision
      )
        end++;
      const group = pending.slice(at, end);
      at = end;
      const model = modelOf(name);
      const target: ModelTarget = model.folder ?? {
        repo: name,
        revision,
        store,
        local: false,
        label: `${name}@${revision}`,
      };
      if (!tokenizers.has(name)) tokenizers.set(name, modelTokenizer(target));
      const tokenizer = await tokenizers.get(name)!;
      const windowsOf = (task: TaskName, maxPositions: number) => {
        const key = `${name}\u0000${task}\u0000${maxPositions}`;
        let windows = windowCache.get(key);
        if (!windows) {
          const fail = (message: string) => new UsageError(message);
          windows = requestWindows(datasets.get(task)!.posed, tokenizer, maxPositions, fail);
          windowCache.set(key, windows);
        }
        return windows;
      };
      // Documents per step, per task (so that a task's numbers do not depend on which others
      // share its checkpoint in a shard): the most whose requests, each as long as the task's
      // longest, fit the memory; the memory check counts the largest.
      const plan = (task: TaskName, config: NeoXConfig, dtype: WeightDtype) => {
        let longest = 1;
        let perDocument = 1;
        let requests = 0;
        for (const doc of windowsOf(task, config.maxPositions)) {
          perDocument = Math.max(perDocument, doc.length);
          requests += doc.length;
          for (const w of doc) longest = Math.max(longest, w.input.length);
        }
        const perSequence = {
          tokens: Math.min(longest, config.maxPositions),
          logits: 'scored' as const,
        };
        const sequences = batchSize(undefined, config, dtype, perSequence, options.memoryBudget);
        const batch = options.batchSize ?? Math.max(1, Math.floor(sequences / perDocument));
        return {
          batch,
          perSequence,
          sequences: Math.max(1, Math.min(batch * perDocument, requests)),
        };
      };
      const use = (config: NeoXConfig, dtype: WeightDtype): MemoryUse => {
        const plans = group.map(({ task }) => plan(task, config, dtype));
        return {
          tokens: Math.max(...plans.map((p) => p.perSequence.tokens)),
          logits: 'scored',
          sequences: Math.max(...plans.map((p) => p.sequences)),
        };
      };
      const loaded = await loadModel(target, options, {
        device: device.get,
        check: (config) => {
          for (const { task } of group) {
            const ids: number[] = [];
            for (const doc of windowsOf(task, config.maxPositions))
              for (const w of doc) ids.push(...w.input, ...w.continuation);
            checkTokenIds(ids, config, { room: Number.POSITIVE_INFINITY });
          }
        },
        use,
      });
      try {
        const { config } = loaded.model;
        // v0.3.0's hf-causal model took the log-softmax over the first 50 257 columns; a model
        // with fewer (a test checkpoint) uses its whole row, and the results file says which.
        const vocabSize = Math.min(HARNESS_LOGIT_COLUMNS, config.vocabSize);
        for (const unit of group) {
          finished++;
          const { posed, source } = datasets.get(unit.task)!;
          const total = posed.documents.length;
          const label = `[${finished}/${pending.length}] ${unit.task} ${target.label}`;
          const bar = countBar(label);
          bar.update(0, total);
          const start = performance.now();
          let values: Record<string, number>[];
          try {
            values = await scoreTask(
              loaded.model,
              posed,
              windowsOf(unit.task, config.maxPositions),
              {
                batch: plan(unit.task, config, loaded.model.dtype).batch,
                vocabSize,
                onProgress: (done) => bar.update(done, total),
              },
            );
          } finally {
            bar.stop();
          }
          const seconds = (performance.now() - start) / 1000;
          const results: EvalResults = {
            ...harnessResults([{ task: TASKS[unit.task], documents: values }], {
              model_args: modelArgs(model, revision),
              limit,
            }),
            pythiajs: {
              model: name,
              revision,
              commit: loaded.checkpoint.commit,
              step: revisionStep(revision),
              datasets: { [unit.task]: source as DatasetSource },
              dtype: loaded.model.dtype,
              logit_columns: vocabSize,
              documents: { [unit.task]: total },
              seconds: { [unit.task]: Math.round(seconds * 1000) / 1000 },
            },
          };
          if (dir !== undefined) {
            await writeFileAtomic(unitPath(dir, unit, model.local), resultsJson(results), false);
            process.stderr.write(
              `${label}: ${describeMetrics(unit.task, results)} (${total} documents, ${seconds.toFixed(1)} s)\n`,
            );
          } else {
            collected.push(results);
          }
        }
      } finally {
        loaded.dispose();
      }
      await keeper.done({ repo: name, commit: loaded.checkpoint.commit, local: model.local });
    }
  } finally {
    await device.destroy();
  }

  if (dir === undefined) {
    printSingle(collected);
    return;
  }
  if (shard) {
    process.stderr.write(
      `shard ${shard.index}/${shard.count} done (${mine.length} units); when every shard is, run: pythia eval merge ${dir}\n`,
    );
    return;
  }
  reportMerge(dir, await mergeResults(dir, { compare: options.compare === true }), {
    final: false,
  });
}

/** `acc 0.6234 ± 0.0113, acc_norm …` for a unit's line. */
function describeMetrics(task: TaskName, results: EvalResults): string {
  const values = results.results[task]!;
  return TASK_TABLE[task].metrics
    .map((m) => {
      const digits = m.name === 'ppl' ? 2 : 4;
      return `${m.name} ${values[m.name]!.toFixed(digits)} ± ${values[`${m.name}_stderr`]!.toFixed(digits)}`;
    })
    .join(', ');
}

/** One checkpoint without --output-dir: its results JSON (all tasks) on stdout, a table on a terminal. */
function printSingle(collected: readonly EvalResults[]): void {
  const first = collected[0];
  if (!first) return;
  const combined: EvalResults = {
    results: {},
    versions: {},
    config: first.config,
    pythiajs: { ...first.pythiajs, datasets: {}, documents: {}, seconds: {} },
  };
  for (const r of collected) {
    Object.assign(combined.results, r.results);
    Object.assign(combined.versions, r.versions);
    Object.assign(combined.pythiajs.datasets, r.pythiajs.datasets);
    Object.assign(combined.pythiajs.documents, r.pythiajs.documents);
    Object.assign(combined.pythiajs.seconds, r.pythiajs.seconds);
  }
  process.stdout.write(resultsJson(combined));
  if (!process.stderr.isTTY) return;
  const rows = Object.entries(combined.results).flatMap(([task, values]) =>
    TASK_TABLE[task as TaskName].metrics.map((m) => [
      task,
      m.name,
      values[m.name]!.toFixed(4),
      `± ${values[`${m.name}_stderr`]!.toFixed(4)}`,
    ]),
  );
  process.stderr.write(
    `${first.pythiajs.model}@${first.pythiajs.revision}\n${formatTable(['task', 'metric', 'value', 'stderr'], rows)}`,
  );
}

/**
 * What a merge wrote, and the units that are missing: after a run a warning (the run did what it
 * was asked; an earlier plan in the folder may want more), from `pythia eval merge` an error
 * (exit 1, after the files are written), so that a job array's missing shards are noticed.
 */
function reportMerge(dir: string, outcome: MergeOutcome, how: { final: boolean }): void {
  const plots = outcome.files.filter((f) => f.endsWith('.svg')).length;
  process.stderr.write(
    `merged ${outcome.units} units of ${outcome.checkpoints} checkpoints into ${dir}: ` +
      `results.csv, ${outcome.checkpoints} checkpoint JSON files, ${plots} plot${plots === 1 ? '' : 's'}\n`,
  );
  for (const model of outcome.uncompared)
    warn(
      `EleutherAI published no per-checkpoint numbers for ${model}; its plots have none to compare`,
    );
  if (outcome.missing.length === 0) return;
  const shown = outcome.missing.slice(0, 20);
  for (const { unit, shard } of shown)
    warn(
      `missing ${unit.task} of ${unit.model}@${unit.revision}${shard ? ` (shard ${shard})` : ''}`,
    );
  if (outcome.missing.length > shown.length)
    warn(`… and ${outcome.missing.length - shown.length} more missing units`);
  const shards = [...new Set(outcome.missing.map((m) => m.shard).filter((s) => s))];
  const message =
    `${outcome.missing.length} planned unit${outcome.missing.length === 1 ? ' is' : 's are'} missing from ${dir}` +
    (shards.length > 0 ? ` (shard${shards.length === 1 ? '' : 's'} ${shards.join(', ')})` : '') +
    '; the merged files cover the others: rerun the command (or those shards), which skips what is done, then merge again';
  if (how.final) throw new Error(message);
  warn(message);
}
