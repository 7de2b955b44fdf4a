import { aggregate, aggregateStderr } from './metrics.js';
import type { TaskSpec } from './task.js';

/** The harness's results JSON: `results`, `versions` and `config`, as its `main.py` wrote them. */
export interface HarnessResults {
  results: Record<string, Record<string, number>>;
  versions: Record<string, number>;
  config: HarnessConfig;
}

/** The `config` the harness recorded (values as in the Pythia results by default). */
export interface HarnessConfig {
  model: string;
  model_args: string;
  num_fewshot: number;
  batch_size: number | null;
  device: string | null;
  no_cache: boolean;
  limit: number | null;
  bootstrap_iters: number;
  description_dict: Record<string, string>;
}

/** One task's per-document metric values, in the order the harness met the documents. */
export interface TaskValues {
  task: Pick<TaskSpec, 'name' | 'version' | 'metrics'>;
  /** One record per document: the task's `score` output. */
  documents: readonly Record<string, number>[];
}

/**
 * The results object the harness's `evaluate()` builds: for each task and each of its metrics
 * in order, the aggregate and then `<metric>_stderr` (`mean_stderr` for means, the bootstrap for
 * perplexity with `config.bootstrap_iters` resamples); `versions` has each task's version. Give
 * the documents in the harness's order (`harnessShuffle`) to reproduce its bootstrap exactly.
 */
export function harnessResults(
  tasks: readonly TaskValues[],
  config: Partial<HarnessConfig> & Pick<HarnessConfig, 'model_args'>,
): HarnessResults {
  const full: HarnessConfig = {
    model: 'hf-causal',
    num_fewshot: 0,
    batch_size: null,
    device: null,
    no_cache: true,
    limit: null,
    bootstrap_iters: 100000,
    description_dict: {},
    ...config,
  };
  const results: HarnessResults['results'] = {};
  const versions: HarnessResults['versions'] = {};
  for (const { task, documents } of tasks) {
    versions[task.name] = task.version;
    const out: Record<string, number> = {};
    for (const metric of task.metrics) {
      const values = documents.map((d, i) => {
        const v = d[metric.name];
        if (typeof v !== 'number') {
          throw new RangeError(`${task.name}: document ${i} has no value for ${metric.name}`);
        }
        return v;
      });
      out[metric.name] = aggregate(metric.aggregation, values);
      out[`${metric.name}_stderr`] = aggregateStderr(
        metric.aggregation,
        values,
        full.bootstrap_iters,
      );
    }
    results[task.name] = out;
  }
  return { results, versions, config: full };
}

/** Python's `repr(float)`: the shortest round-trip digits, exponent form below 1e-4 or from 1e16. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Number.POSITIVE_INFINITY) return 'Infinity';
  if (x === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, exp] = x.toExponential().split('e') as [string, string];
  const e = Number(exp);
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  if (e < -4 || e >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  if (digits.length <= e + 1) return `${sign}${digits}${'0'.repeat(e + 1 - digits.length)}.0`;
  return `${sign}${digits.slice(0, e + 1)}.${digits.slice(e + 1)}`;
}

function pythonString(s: string): string {
  // json.dumps with ensure_ascii: every non-ASCII UTF-16 unit as \uXXXX.
  return JSON.stringify(s).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function dump(value: unknown, indent: string, floats: boolean): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    return floats || !Number.isInteger(value) ? pythonFloatRepr(value) : String(value);
  }
  if (typeof value === 'string') return pythonString(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => inner + dump(v, inner, floats)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${inner}${pythonString(k)}: ${dump(v, inner, floats)}`).join(',\n')}\n${indent}}`;
}

/**
 * The results as the harness's `json.dumps(results, indent=2)` writes them: metric values as
 * Python floats (`1.0`, `1e-05`), versions and config integers as integers.
 */
export function harnessJson(results: HarnessResults): string {
  return [
    '{',
    `  "results": ${dump(results.results, '  ', true)},`,
    `  "versions": ${dump(results.versions, '  ', false)},`,
    `  "config": ${dump(results.config, '  ', false)}`,
    '}',
  ].join('\n');
}
