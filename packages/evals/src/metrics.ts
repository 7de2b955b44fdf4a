import { PythonRandom } from './python-random.js';

// lm-evaluation-harness v0.3.0's `lm_eval/metrics.py` and the parts of `evaluator.py` that use it.
// Python's `sum` adds left to right (before Python 3.12), so these do too: with the same
// per-document values in the same order, the aggregates are the harness's to the last bit, except
// where `Math.exp`/`Math.log` and the C library round differently (within an ulp).

/** `sum(arr) / len(arr)`. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('mean of no values');
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** `sample_stddev`: √(Σ(x − μ)² / (n − 1)). */
export function sampleStddev(values: readonly number[]): number {
  if (values.length < 2)
    throw new RangeError('a sample standard deviation needs two values or more');
  const mu = mean(values);
  let sum = 0;
  for (const v of values) sum += (v - mu) ** 2;
  return Math.sqrt(sum / (values.length - 1));
}

/** `mean_stderr`: the sample standard deviation over √n: the `_stderr` of every `mean` metric. */
export function meanStderr(values: readonly number[]): number {
  return sampleStddev(values) / Math.sqrt(values.length);
}

/** `perplexity`: exp(−mean log-likelihood), the aggregation of `lambada_openai`'s `ppl`. */
export function perplexity(loglikelihoods: readonly number[]): number {
  return Math.exp(-mean(loglikelihoods));
}

/** numpy's `argmax`: the index of the first maximum (NaN counts as the maximum, as in numpy). */
export function argmax(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('argmax of no values');
  let best = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) return i;
    if (v > values[best]!) best = i;
  }
  return best;
}

/** Python's `len(str)`: code points, not UTF-16 units. */
export function pythonLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * `MultipleChoiceTask.process_results`: `acc` when the most likely choice (first maximum) is the
 * gold one; `acc_norm` the same after dividing each log-likelihood by its choice's length in
 * characters (Python's `len`, without the space the request puts before the choice).
 */
export function multipleChoiceMetrics(
  loglikelihoods: readonly number[],
  choices: readonly string[],
  gold: number,
): { acc: number; acc_norm: number } {
  if (loglikelihoods.length !== choices.length) {
    throw new RangeError(
      `expected ${choices.length} log-likelihoods (one per choice), got ${loglikelihoods.length}`,
    );
  }
  const normed = loglikelihoods.map((ll, i) => ll / pythonLength(choices[i]!));
  return {
    acc: argmax(loglikelihoods) === gold ? 1 : 0,
    acc_norm: argmax(normed) === gold ? 1 : 0,
  };
}

/**
 * `bootstrap_stderr(f, xs, iters)` as the harness runs it: `iters // min(1000, iters)` chunks of
 * `min(1000, iters)` resamples; chunk i draws with `random.Random(i)` (`rnd.seed(i)`), each
 * resample being `rnd.choices(xs, k=len(xs))`; the result is the sample standard deviation of the
 * `f` values, in chunk order. The draws are CPython's Mersenne Twister, reproduced exactly, so
 * with `xs` in the harness's order (see {@link harnessShuffle}) this is the harness's number.
 * It costs `iters · len(xs)` draws: the harness's 100 000 over LAMBADA's 5 153 documents take
 * seconds.
 */
export function bootstrapStderr(
  f: (sample: readonly number[]) => number,
  xs: readonly number[],
  iters: number,
): number {
  if (!Number.isInteger(iters) || iters < 1)
    throw new RangeError('iters must be a positive integer');
  const chunk = Math.min(1000, iters);
  const chunks = Math.floor(iters / chunk);
  const res: number[] = [];
  const n = xs.length;
  const sample = new Array<number>(n);
  for (let i = 0; i < chunks; i++) {
    const rnd = new PythonRandom(i);
    for (let r = 0; r < chunk; r++) {
      for (let k = 0; k < n; k++) sample[k] = xs[Math.floor(rnd.random() * n)]!;
      res.push(f(sample));
    }
  }
  return sampleStddev(res);
}

/** How a metric's values are aggregated: the harness's `aggregation()` functions used here. */
export type Aggregation = 'mean' | 'perplexity';

/** `task.aggregation()[metric](items)`. */
export function aggregate(aggregation: Aggregation, values: readonly number[]): number {
  return aggregation === 'mean' ? mean(values) : perplexity(values);
}

/**
 * `stderr_for_metric(aggregation, bootstrap_iters)(items)`: `mean_stderr` for `mean`, the
 * bootstrap of {@link bootstrapStderr} for `perplexity`.
 */
export function aggregateStderr(
  aggregation: Aggregation,
  values: readonly number[],
  bootstrapIters: number,
): number {
  return aggregation === 'mean'
    ? meanStderr(values)
    : bootstrapStderr(perplexity, values, bootstrapIters);
}

/**
 * The order in which the harness evaluates a task's documents: `evaluate()` shuffles them with
 * `random.Random(42)` (`rnd.seed(42); rnd.shuffle(task_docs)`) before building requests, and the
 * per-document metric values reach the aggregations in that order. Returns a shuffled copy.
 */
export function harnessShuffle<T>(docs: readonly T[]): T[] {
  return new PythonRandom(42).shuffle([...docs]);
}
