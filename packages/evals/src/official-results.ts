import { OFFICIAL_CSV } from './official-csv.js';
import type { TaskName } from './task.js';
import { TASK_NAMES } from './task-table.js';

/** One checkpoint's official zero-shot results, as EleutherAI published them. */
export interface OfficialResult {
  /** The model's name on the Hub without its owner, e.g. `pythia-70m-deduped`. */
  model: string;
  /** The training step (the revision is `step{step}`). */
  step: number;
  /** The harness's `model_args` as recorded (`pretrained=EleutherAI/pythia-v1.1-70m,…`). */
  modelArgs: string;
  /** Per task, its metrics and their `_stderr`s, as in the harness's results JSON. */
  results: { [task in TaskName]?: Record<string, number> };
}

let parsed: OfficialResult[] | undefined;

/**
 * EleutherAI's own zero-shot results for the Pythia models, from the Pythia repository's
 * `evals/pythia-v1/summary_zero_shot.csv` (shipped in this package as
 * `data/pythia-zero-shot.csv`): lm-evaluation-harness v0.3.0 with the `hf-causal` model, at 27
 * checkpoints (steps 0, 1, 2, 4, …, 512, 1000, 3000, 13000, 23000, …, 143000) of pythia-70m,
 * 160m and 410m and their deduped twins, on the eight tasks of this package. Other sizes have no
 * per-checkpoint file there, so they give an empty list.
 *
 * The results name the models `pythia-v1.1-*`: the re-trained suite that the Hub now calls
 * `EleutherAI/pythia-*` (the first training run is `EleutherAI/pythia-*-v0`).
 *
 * @param model `pythia-70m` or `EleutherAI/pythia-70m`; all models when left out.
 * @returns The checkpoints in step order.
 *
 * @example
 * ```ts
 * const curve = officialResults('EleutherAI/pythia-160m').map((r) => [r.step, r.results.piqa?.acc]);
 * ```
 */
export function officialResults(model?: string): OfficialResult[] {
  parsed ??= parseOfficialCsv(OFFICIAL_CSV);
  if (model === undefined) return parsed;
  const name = model.replace(/^EleutherAI\//, '');
  return parsed.filter((r) => r.model === name);
}

/** The models {@link officialResults} has checkpoints for. */
export function officialModels(): string[] {
  return [...new Set(officialResults().map((r) => r.model))];
}

/** Parses the summary CSV: `model,step,model_args,num_fewshot,<task>.<metric>,…`. */
export function parseOfficialCsv(csv: string): OfficialResult[] {
  // The published file ends its lines with CRLF.
  const lines = csv.split(/\r?\n/).filter((line) => line !== '');
  const header = splitCsvLine(lines[0] ?? '');
  const known = new Set<string>(TASK_NAMES);
  const rows = lines.slice(1).map((line, n) => {
    const cells = splitCsvLine(line);
    if (cells.length !== header.length) {
      throw new RangeError(
        `official results line ${n + 2} has ${cells.length} cells, the header ${header.length}`,
      );
    }
    const results: OfficialResult['results'] = {};
    header.forEach((column, i) => {
      const dot = column.indexOf('.');
      const task = column.slice(0, dot);
      if (dot < 0 || !known.has(task)) return;
      const value = Number(cells[i]);
      if (cells[i] === '' || !Number.isFinite(value)) return;
      const metrics = results[task as TaskName] ?? {};
      metrics[column.slice(dot + 1)] = value;
      results[task as TaskName] = metrics;
    });
    return {
      model: cells[header.indexOf('model')]!,
      step: Number(cells[header.indexOf('step')]),
      modelArgs: cells[header.indexOf('model_args')]!,
      results,
    };
  });
  return rows.sort((a, b) => (a.model === b.model ? a.step - b.step : a.model < b.model ? -1 : 1));
}

// The CSV quotes only `model_args`, which holds commas and no quotes.
function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let at = 0;
  while (at <= line.length) {
    if (line[at] === '"') {
      const end = line.indexOf('"', at + 1);
      cells.push(line.slice(at + 1, end));
      at = end + 2;
    } else {
      const end = line.indexOf(',', at);
      const stop = end < 0 ? line.length : end;
      cells.push(line.slice(at, stop));
      at = stop + 1;
    }
  }
  return cells;
}
