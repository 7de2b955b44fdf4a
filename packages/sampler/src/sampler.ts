import { allocateBuckets, type BucketScratch } from './mass-prefix.js';
import { argmax, logSumExp } from './math.js';
import {
  type ResolvedOptions,
  resolveOptions,
  type SamplerOptions,
  type TokenHistory,
} from './options.js';
import { Prng } from './prng.js';
import { banBadWordEndings, maskBeyondVocab, suppressIds } from './processors/ban.js';
import { applyLogitBias } from './processors/bias.js';
import { banRepeatedNgrams } from './processors/ngram.js';
import { applyPresenceFrequencyPenalties, applyRepetitionPenalty } from './processors/penalties.js';
import { selectBest } from './select.js';
import { minP } from './warpers/min-p.js';
import { topK } from './warpers/top-k.js';
import { topP } from './warpers/top-p.js';
import { typicalP } from './warpers/typical.js';

/** A token with its log-probability under the model's raw distribution. */
export interface TokenLogprob {
  id: number;
  /** log-softmax of the raw logits row at `id`. */
  logprob: number;
}

/** A chosen token. */
export interface SampledToken {
  id: number;
  /**
   * Log-probability of `id` under the model's own distribution: log-softmax of the *raw* logits
   * row, before any processor, temperature or truncation — so it scores the text, not the
   * sampler, and it is the same whatever the options. (Over the full row, padding ids included.)
   */
  logprob: number;
  /**
   * With `topLogprobs: n`, the n most likely tokens of the raw distribution, most likely first
   * (ties by ascending id), whether or not `id` is among them — like the OpenAI API's `top_logprobs`.
   */
  alternatives?: TokenLogprob[];
}

/**
 * Picks tokens from rows of logits. Call it with a row (and the token history when an option needs
 * one); it keeps its random state between calls, so a sampler is one reproducible stream.
 */
export interface Sampler {
  /**
   * Chooses a token from one row of logits.
   *
   * @param logits - the model's output for the next position; finite or −∞ (a NaN or +∞ throws).
   * @param history - prompt + tokens generated so far; required when `repetitionPenalty`,
   *   `presencePenalty`, `frequencyPenalty`, `noRepeatNgramSize`, a multi-token `badWordsIds` entry
   *   or `beginSuppressTokens` is set.
   */
  (logits: Float32Array, history?: TokenHistory): SampledToken;
  /**
   * The row the sampler would draw from, as Hugging Face's `logits_processor(input_ids, scores)`
   * returns it: processors applied, then (unless greedy) temperature and the truncations, with −∞
   * where a token was removed. Draws nothing, so the random stream is untouched.
   */
  process(logits: Float32Array, history?: TokenHistory): Float64Array;
}

/** Scratch rows, one slot per token id, allocated once per row width and reused by every call. */
interface Scratch {
  scores: Float64Array;
  key: Float64Array;
  cand: Int32Array;
  ranked: Int32Array;
  spare: Int32Array;
  counts: Int32Array;
  weights: Float64Array;
  buckets: BucketScratch;
  identity: Int32Array | undefined;
}

function allocate(n: number): Scratch {
  return {
    scores: new Float64Array(n),
    key: new Float64Array(n),
    cand: new Int32Array(n),
    ranked: new Int32Array(n),
    spare: new Int32Array(n),
    counts: new Int32Array(n),
    weights: new Float64Array(n),
    buckets: allocateBuckets(),
    identity: undefined,
  };
}

function checkHistory(history: TokenHistory, n: number): void {
  const { tokens, generatedFrom } = history;
  if (tokens === null || typeof tokens !== 'object' || typeof tokens.length !== 'number')
    throw new TypeError('history.tokens must be an array of token ids');
  if (!Number.isInteger(generatedFrom) || generatedFrom < 0 || generatedFrom > tokens.length) {
    throw new RangeError(
      `history.generatedFrom must be an integer in [0, ${tokens.length}] (the prompt length), got ${generatedFrom}`,
    );
  }
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (!Number.isInteger(t) || t < 0 || t >= n) {
      throw new RangeError(
        `history.tokens[${i}] must be a token id in [0, ${n - 1}] for a row of ${n} logits, got ${t}`,
      );
    }
  }
}

function checkIds(name: string, ids: Int32Array, n: number): void {
  for (const id of ids) {
    if (id >= n)
      throw new RangeError(
        `${name} contains ${id}, outside a row of ${n} logits (ids 0 to ${n - 1})`,
      );
  }
}

/**
 * Copies `logits` into `s.scores` and applies the logits processors, in the order of Hugging Face
 * `generate` (`_get_logits_processor`): sequence bias, repetition penalty, no-repeat-n-gram, bad
 * words, suppressed tokens, begin-suppressed tokens. The OpenAI presence/frequency penalties, which
 * Hugging Face lacks, follow the repetition penalty as in vLLM; vocabulary masking comes last.
 */
function applyProcessors(
  o: ResolvedOptions,
  logits: Float32Array,
  history: TokenHistory | undefined,
  s: Scratch,
): void {
  const n = logits.length;
  const { scores } = s;
  for (let i = 0; i < n; i++) {
    const x = logits[i]!;
    // −∞ is a legitimate mask from upstream; NaN or +∞ would make every probability NaN.
    if (!(x < Number.POSITIVE_INFINITY))
      throw new RangeError(`logits[${i}] is ${x}: logits must be finite or -Infinity`);
    scores[i] = x;
  }
  if (history === undefined) {
    if (o.historyNeededBy !== undefined) {
      throw new TypeError(
        `${o.historyNeededBy} needs the token history: call sample(logits, { tokens, generatedFrom })`,
      );
    }
  } else {
    checkHistory(history, n);
  }
  checkIds('logitBias', o.biasIds, n);
  checkIds('badWordsIds', o.badWordsSingle, n);
  for (const seq of o.badWordsMulti) checkIds('badWordsIds', seq, n);
  checkIds('suppressTokens', o.suppressTokens, n);
  checkIds('beginSuppressTokens', o.beginSuppressTokens, n);

  applyLogitBias(scores, o.biasIds, o.biasValues);
  if (history !== undefined) {
    const { tokens, generatedFrom } = history;
    if (o.repetitionPenalty !== 1) {
      const from = o.repetitionScope === 'all' ? 0 : generatedFrom;
      applyRepetitionPenalty(scores, tokens, from, o.repetitionPenalty, s.counts);
    }
    if (o.presencePenalty !== 0 || o.frequencyPenalty !== 0) {
      const from = o.countScope === 'all' ? 0 : generatedFrom;
      applyPresenceFrequencyPenalties(
        scores,
        tokens,
        from,
        o.presencePenalty,
        o.frequencyPenalty,
        s.counts,
      );
    }
    if (o.noRepeatNgramSize > 0) banRepeatedNgrams(scores, tokens, o.noRepeatNgramSize);
    banBadWordEndings(scores, tokens, o.badWordsMulti);
  }
  suppressIds(scores, o.badWordsSingle);
  suppressIds(scores, o.suppressTokens);
  // Hugging Face `SuppressTokensAtBeginLogitsProcessor`: only while nothing has been generated.
  if (history !== undefined && history.tokens.length === history.generatedFrom)
    suppressIds(scores, o.beginSuppressTokens);
  if (o.vocabSize > 0) maskBeyondVocab(scores, o.vocabSize);
}

/**
 * The warpers, in Hugging Face's order — temperature, top-k, top-p, min-p, typical-p — on the list
 * of candidates (the ids whose processed score is finite, ascending). Returns how many remain.
 */
function applyWarpers(o: ResolvedOptions, s: Scratch): number {
  const { scores, cand, ranked } = s;
  const ranking = { dist: s.key, weight: s.weights, out: ranked, tmp: s.spare };
  let m = 0;
  for (let i = 0; i < scores.length; i++) {
    if (scores[i]! !== Number.NEGATIVE_INFINITY) {
      // Hugging Face `TemperatureLogitsWarper`: scores / temperature.
      if (o.temperature !== 1) scores[i] = scores[i]! / o.temperature;
      cand[m++] = i;
    }
  }
  if (m === 0) throw new RangeError(everyTokenMasked);
  m = topK(scores, cand, m, o.topK, ranked);
  m = topP(scores, cand, m, o.topP, ranking, s.buckets);
  m = minP(scores, cand, m, o.minP);
  m = typicalP(scores, cand, m, o.typicalP, ranking, s.buckets);
  return m;
}

const everyTokenMasked =
  'every token is masked (all logits are -Infinity after processing): nothing can be sampled';

/**
 * Inverse-CDF draw over the candidates in ascending id order, from softmax of their scores, with
 * one uniform number from the integer PRNG.
 */
function draw(s: Scratch, m: number, rng: Prng): number {
  const { scores, cand, weights } = s;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < m; i++) if (scores[cand[i]!]! > max) max = scores[cand[i]!]!;
  let total = 0;
  let last = 0;
  for (let i = 0; i < m; i++) {
    const w = Math.exp(scores[cand[i]!]! - max);
    weights[i] = w;
    total += w;
    if (w > 0) last = i;
  }
  let u = rng.next() * total;
  for (let i = 0; i < m; i++) {
    u -= weights[i]!;
    if (u < 0) return cand[i]!;
  }
  // Rounding left u ≥ 0 after the last weight: take the last token that has any weight.
  return cand[last]!;
}

/**
 * Creates a sampler: Hugging Face `generate` semantics for every processor and warper it shares
 * with it, OpenAI semantics for presence/frequency penalties and logit bias, and a seeded integer
 * PRNG so that one seed gives the same tokens in Node and in every browser.
 *
 * Greedy (`temperature: 0`) applies the processors and takes the first maximum, ignoring the
 * warpers and drawing nothing — Hugging Face's `do_sample=False`. Otherwise each call draws one
 * number from the generator.
 *
 * @throws RangeError when an option is out of range; the message names it and its valid range.
 *
 * @example
 * ```ts
 * const sample = createSampler({ temperature: 0.8, topP: 0.95, repetitionPenalty: 1.2, seed: 1 });
 * const tokens = [...prompt];
 * for (let step = 0; step < 32; step++) {
 *   const logits = await model.next(tokens); // Float32Array, one logit per token id
 *   const { id, logprob } = sample(logits, { tokens, generatedFrom: prompt.length });
 *   tokens.push(id);
 * }
 * ```
 */
export function createSampler(options: SamplerOptions = {}): Sampler {
  const o = resolveOptions(options);
  const rng = new Prng(o.seed);
  let scratch: Scratch | undefined;

  const prepare = (logits: Float32Array, history: TokenHistory | undefined): Scratch => {
    if (logits.length === 0) throw new RangeError('cannot sample from an empty row of logits');
    if (scratch === undefined || scratch.scores.length !== logits.length)
      scratch = allocate(logits.length);
    applyProcessors(o, logits, history, scratch);
    return scratch;
  };

  const alternatives = (logits: Float32Array, logZ: number, s: Scratch): TokenLogprob[] => {
    const n = logits.length;
    if (s.identity === undefined) s.identity = Int32Array.from({ length: n }, (_, i) => i);
    const k = selectBest(s.identity, n, o.topLogprobs, logits, s.ranked);
    const out: TokenLogprob[] = [];
    for (let r = 0; r < k; r++) {
      const id = s.ranked[r]!;
      out.push({ id, logprob: logits[id]! - logZ });
    }
    return out;
  };

  const sample = (logits: Float32Array, history?: TokenHistory): SampledToken => {
    const s = prepare(logits, history);
    let id: number;
    if (o.temperature === 0) {
      id = argmax(s.scores);
      if (s.scores[id] === Number.NEGATIVE_INFINITY) throw new RangeError(everyTokenMasked);
    } else {
      id = draw(s, applyWarpers(o, s), rng);
    }
    const logZ = logSumExp(logits);
    const token: SampledToken = { id, logprob: logits[id]! - logZ };
    if (o.topLogprobs > 0) token.alternatives = alternatives(logits, logZ, s);
    return token;
  };

  const process = (logits: Float32Array, history?: TokenHistory): Float64Array => {
    const s = prepare(logits, history);
    if (o.temperature === 0) return s.scores.slice();
    const m = applyWarpers(o, s);
    const out = new Float64Array(logits.length).fill(Number.NEGATIVE_INFINITY);
    for (let i = 0; i < m; i++) out[s.cand[i]!] = s.scores[s.cand[i]!]!;
    return out;
  };

  return Object.assign(sample, { process });
}
