import { Prng } from './prng.js';

/** How to choose the next token from a row of logits. */
export interface SamplerOptions {
  /** Divides the logits; `0` picks the most likely token (greedy). Default `1`. */
  temperature?: number;
  /** Keep only the `topK` most likely tokens (ties with the k-th are kept). `0` = off. */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches `topP`. `1` = off. */
  topP?: number;
  /** Seed of the random generator: the same seed gives the same tokens on every engine. */
  seed?: number;
}

/** A chosen token. */
export interface SampledToken {
  id: number;
  /** Log-probability of `id` under the model's own distribution (log-softmax of the raw logits). */
  logprob: number;
}

/** Picks a token from a row of logits; keeps its random state between calls. */
export type Sampler = (logits: Float32Array) => SampledToken;

function check(options: SamplerOptions): Required<SamplerOptions> {
  const { temperature = 1, topK = 0, topP = 1, seed = 0 } = options;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) {
    throw new RangeError(
      `temperature must be a finite number ≥ 0 (0 = greedy), got ${temperature}`,
    );
  }
  if (!Number.isInteger(topK) || topK < 0)
    throw new RangeError(`topK must be an integer ≥ 0 (0 = off), got ${topK}`);
  if (!(topP > 0 && topP <= 1))
    throw new RangeError(`topP must be in (0, 1] (1 = off), got ${topP}`);
  return { temperature, topK, topP, seed };
}

/** Index of the largest logit, the first one on ties (as `argmax` in PyTorch). */
export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/** log-softmax of `logits` at `id`, computed stably in float64. */
export function logSoftmaxAt(logits: Float32Array, id: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return logits[id]! - max - Math.log(sum);
}

/**
 * A sampler with Hugging Face `generate` semantics for temperature, top-k and top-p.
 *
 * @example
 * ```ts
 * const sample = createSampler({ temperature: 0.8, topP: 0.95, seed: 1 });
 * const { id, logprob } = sample(logits);
 * ```
 */
export function createSampler(options: SamplerOptions = {}): Sampler {
  const { temperature, topK, topP, seed } = check(options);
  const rng = new Prng(seed);
  return (logits) => {
    if (logits.length === 0) throw new RangeError('cannot sample from an empty row of logits');
    const id =
      temperature === 0 || topK === 1 ? argmax(logits) : draw(logits, temperature, topK, topP, rng);
    return { id, logprob: logSoftmaxAt(logits, id) };
  };
}

function draw(
  logits: Float32Array,
  temperature: number,
  topK: number,
  topP: number,
  rng: Prng,
): number {
  const n = logits.length;
  // Candidates by descending logit (ties by ascending id, so the order is the same everywhere).
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => logits[b]! - logits[a]! || a - b,
  );
  let keep = n;
  if (topK > 0 && topK < n) {
    const kth = logits[order[topK - 1]!]!;
    keep = topK;
    while (keep < n && logits[order[keep]!] === kth) keep++;
  }
  const max = logits[order[0]!]! / temperature;
  const weights = new Float64Array(keep);
  let total = 0;
  for (let r = 0; r < keep; r++) {
    weights[r] = Math.exp(logits[order[r]!]! / temperature - max);
    total += weights[r]!;
  }
  if (topP < 1) {
    // Hugging Face drops tokens whose ascending cumulative probability is ≤ 1 − topP; from the
    // top that keeps each token while the mass before it is < topP (at least one token).
    let mass = 0;
    let r = 0;
    while (r < keep && mass < topP * total) mass += weights[r++]!;
    keep = Math.max(1, r);
    total = 0;
    for (let i = 0; i < keep; i++) total += weights[i]!;
  }
  let u = rng.next() * total;
  for (let r = 0; r < keep; r++) {
    u -= weights[r]!;
    if (u < 0) return order[r]!;
  }
  return order[keep - 1]!;
}
