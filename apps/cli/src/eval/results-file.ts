import { readFile } from 'node:fs/promises';
import { type HarnessResults, harnessJson, TASK_NAMES, type TaskName } from '@pythiajs/evals';
import type { WeightDtype } from '@pythiajs/neox-model';
import { type DatasetSource, describeSource, sameSource } from './datasets.js';

/**
 * What pythiajs adds to the harness's results JSON (under `"pythiajs"`, beside `results`,
 * `versions` and `config`): where the numbers come from, so that a resumed or merged sweep can
 * tell its units apart and refuse to mix runs made differently.
 */
export interface EvalProvenance {
  /** The Hub repo, or a checkpoint folder's absolute path. */
  model: string;
  revision: string;
  /** The revision's commit (`local` for a folder). */
  commit: string;
  /** Training step of a `stepN` revision; null for `main` and others. */
  step: number | null;
  /** Per task, where its documents came from. */
  datasets: { [task in TaskName]?: DatasetSource };
  /** The weights' dtype on the GPU (`f16`, `f32`, `q8`, `q4`). */
  dtype: string;
  /**
   * The logits columns each log-softmax was taken over: 50 257 (the v0.3.0 `hf-causal` model's
   * `logits[:, :, :50257]`), or the model's whole row when it is narrower.
   */
  logit_columns: number;
  /** Per task, the documents scored and the seconds it took (the forward passes and scoring). */
  documents: { [task in TaskName]?: number };
  seconds: { [task in TaskName]?: number };
}

/** A results file: the harness's JSON, plus {@link EvalProvenance}. */
export interface EvalResults extends HarnessResults {
  pythiajs: EvalProvenance;
}

/**
 * The file's text: the harness's keys as its `json.dumps(indent=2)` wrote them (`harnessJson`),
 * then `"pythiajs"`.
 */
export function resultsJson(results: EvalResults): string {
  const { pythiajs, ...harness } = results;
  const extra = JSON.stringify(pythiajs, null, 2).replaceAll('\n', '\n  ');
  return `${harnessJson(harness).replace(/\n}$/, '')},\n  "pythiajs": ${extra}\n}\n`;
}

/** A results file, or undefined when there is none or it is not one (a `.partial` left over). */
export async function readResults(path: string): Promise<EvalResults | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const json = JSON.parse(text) as EvalResults;
    if (json?.results && json.config && json.pythiajs?.model) return json;
  } catch {
    // Not JSON: not a finished results file.
  }
  return undefined;
}

/** What a run wants of a unit, to compare with the file it finds. */
export interface UnitSettings {
  limit: number | null;
  dataset: DatasetSource;
  /** `--dtype` as given: `auto` accepts the dtype a file was made with. */
  dtype: 'auto' | WeightDtype;
  modelArgs: string;
}

/**
 * Why an existing unit file cannot count for this run (naming the option that differs and the
 * file), or undefined when it can.
 */
export function unitMismatch(
  file: string,
  found: EvalResults,
  task: TaskName,
  wanted: UnitSettings,
): string | undefined {
  const redo = `remove it (or use another --output-dir) to run it again with these settings`;
  if (found.config.model_args !== wanted.modelArgs)
    return `${file} holds results of ${found.config.model_args}, not ${wanted.modelArgs} (--model): ${redo}`;
  if ((found.config.limit ?? null) !== wanted.limit) {
    const was =
      found.config.limit === null ? 'without --limit' : `with --limit ${found.config.limit}`;
    const now = wanted.limit === null ? 'without --limit' : `with --limit ${wanted.limit}`;
    return `${file} was run ${was}, and this run is ${now}: ${redo}`;
  }
  const source = found.pythiajs.datasets?.[task];
  if (!source || !sameSource(source, wanted.dataset)) {
    const option = 'file' in wanted.dataset || (source && 'file' in source) ? '--file' : 'dataset';
    return `${file} was run on ${source ? describeSource(source) : 'another dataset'}, and this run reads ${describeSource(wanted.dataset)} (${option}): ${redo}`;
  }
  if (wanted.dtype !== 'auto' && found.pythiajs.dtype !== wanted.dtype)
    return `${file} was run with --dtype ${found.pythiajs.dtype}, and this run asks for --dtype ${wanted.dtype}: ${redo}`;
  return undefined;
}

/** Tasks in the table's order. */
export function taskOrder(a: string, b: string): number {
  return TASK_NAMES.indexOf(a as TaskName) - TASK_NAMES.indexOf(b as TaskName);
}
