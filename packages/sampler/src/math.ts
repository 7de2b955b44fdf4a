import { selectBest } from './select.js';

/** Index of the largest logit, the first one on ties (as `argmax` in PyTorch). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/**
 * log Σ exp(row), computed stably in float64 (shifted by the maximum). `-Infinity` entries count
 * as probability zero; a row of only `-Infinity` gives `-Infinity`.
 */
export function logSumExp(row: ArrayLike<number>): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  if (max === Number.NEGATIVE_INFINITY) return max;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return max + Math.log(sum);
}

/** log-softmax of `logits` at `id`, computed stably in float64. */
export function logSoftmaxAt(logits: ArrayLike<number>, id: number): number {
  return logits[id]! - logSumExp(logits);
}

/**
 * log-softmax of a whole row, in float64: `out[i] = row[i] − log Σ exp(row)`.
 *
 * @example
 * ```ts
 * logSoftmax([0, Math.log(3)]); // Float64Array [log 0.25, log 0.75]
 * ```
 */
export function logSoftmax(row: ArrayLike<number>): Float64Array {
  const norm = logSumExp(row);
  const out = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i]! - norm;
  return out;
}

/** One entry of {@link topKWithProbabilities}. */
export interface TokenProbability {
  id: number;
  /** softmax probability (float64). */
  prob: number;
  /** Its natural log: the log-softmax at `id`. */
  logprob: number;
}

/** Options of {@link topKWithProbabilities}. */
export interface TopKOptions {
  /**
   * Only ids below this count (default: the whole row), and the softmax is taken over them alone.
   * Pythia's logits are 50 304 wide but its tokenizer has 50 277 ids: the padded ids never occur
   * in text, so a display of "what comes next" leaves them out.
   */
  vocabSize?: number;
}

// 0, 1, 2 … reused across calls: partial selection takes the candidate ids as an array.
let identity = new Int32Array(0);

/**
 * The `k` most likely ids of a row of logits with their softmax probabilities, most likely first,
 * ties by the lower id (the order of `topLogprobs`). A partial selection (a heap of size k), not a
 * sort of the row; the probabilities are computed in float64.
 *
 * @example
 * ```ts
 * topKWithProbabilities(Float32Array.of(0, Math.log(3), Math.log(2), 0), 2);
 * // [{ id: 1, prob: 0.4286, logprob: -0.847 }, { id: 2, prob: 0.2857, logprob: -1.253 }]
 * ```
 */
export function topKWithProbabilities(
  row: ArrayLike<number>,
  k: number,
  options: TopKOptions = {},
): TokenProbability[] {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`k must be an integer ≥ 0, got ${k}`);
  const { vocabSize } = options;
  if (vocabSize !== undefined && (!Number.isInteger(vocabSize) || vocabSize < 1))
    throw new RangeError(`vocabSize must be an integer ≥ 1, got ${vocabSize}`);
  const width = Math.min(vocabSize ?? row.length, row.length);
  const kept = width === row.length ? row : subarray(row, width);
  if (identity.length < width) identity = Int32Array.from({ length: width }, (_, i) => i);
  const best = new Int32Array(Math.min(k, width));
  const n = selectBest(identity, width, k, kept, best);
  const norm = logSumExp(kept);
  const out: TokenProbability[] = [];
  for (let r = 0; r < n; r++) {
    const id = best[r]!;
    const logprob = kept[id]! - norm;
    out.push({ id, prob: Math.exp(logprob), logprob });
  }
  return out;
}

function subarray(row: ArrayLike<number>, width: number): ArrayLike<number> {
  const typed = row as ArrayLike<number> & {
    subarray?: (start: number, end: number) => ArrayLike<number>;
  };
  return typed.subarray ? typed.subarray(0, width) : Array.prototype.slice.call(row, 0, width);
}
