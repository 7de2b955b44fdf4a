/**
 * Which tokens a history-based penalty counts: only the tokens generated so far (`'generated'`,
 * the OpenAI API's rule for presence and frequency penalties) or the prompt too (`'all'`, Hugging
 * Face's rule for `repetition_penalty` on decoder-only models).
 */
export type PenaltyScope = 'generated' | 'all';

/**
 * How to choose the next token from a row of logits. Every option is off by default; the
 * defaults give plain sampling from softmax(logits) at temperature 1.
 */
export interface SamplerOptions {
  /** Divides the logits; `0` picks the most likely token (greedy). Finite, ≥ 0. Default `1`. */
  temperature?: number;
  /** Keep only the `topK` most likely tokens (ties with the k-th are kept). Integer ≥ 0; `0` = off. */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches `topP`. In (0, 1]; `1` = off. */
  topP?: number;
  /** Keep the tokens with probability ≥ `minP` × the top probability (after temperature). In [0, 1]; `0` = off. */
  minP?: number;
  /** Typical sampling: keep the tokens whose surprisal is closest to the entropy, up to mass `typicalP`. In (0, 1]; `1` = off. */
  typicalP?: number;
  /** Hugging Face / CTRL repetition penalty on every distinct earlier token. > 0; `1` = off. */
  repetitionPenalty?: number;
  /** OpenAI presence penalty: subtracted once from every token that occurred. In [−2, 2]; `0` = off. */
  presencePenalty?: number;
  /** OpenAI frequency penalty: subtracted once per occurrence. In [−2, 2]; `0` = off. */
  frequencyPenalty?: number;
  /**
   * Which tokens the three penalties count. Unset, each follows its reference: the repetition
   * penalty counts the prompt too (`'all'`, Hugging Face), presence and frequency penalties count
   * the generated tokens only (`'generated'`, OpenAI). Set, it applies to all three.
   */
  penaltyScope?: PenaltyScope;
  /** Ban every token that would complete an n-gram already in the history. Integer ≥ 0; `0` = off. */
  noRepeatNgramSize?: number;
  /**
   * Token sequences that must never be generated (Hugging Face `bad_words_ids`): a one-token
   * sequence bans its token at every step; a longer one bans its last token whenever the history
   * ends with the rest of it.
   */
  badWordsIds?: readonly (readonly number[])[];
  /** Token ids never to generate (Hugging Face `suppress_tokens`). */
  suppressTokens?: readonly number[];
  /** Token ids not to generate as the first generated token (Hugging Face `begin_suppress_tokens`). */
  beginSuppressTokens?: readonly number[];
  /** Added to the logits of the given token ids (OpenAI `logit_bias`). Values in [−100, 100]. */
  logitBias?: Readonly<Record<number, number>>;
  /**
   * Number of ids the tokenizer has: ids ≥ `vocabSize` can never be sampled (Pythia's logits are
   * 50 304 wide, the GPT-NeoX-20B tokenizer has 50 277 ids). Integer ≥ 1; unset = off.
   */
  vocabSize?: number;
  /** Also return the `topLogprobs` most likely tokens with their raw log-probabilities. Integer ≥ 0; `0` = off. */
  topLogprobs?: number;
  /** Seed of the random generator: the same seed gives the same tokens on every engine. Integer. Default `0`. */
  seed?: number;
}

/** The token history that some processors need: the prompt followed by the generated tokens. */
export interface TokenHistory {
  /** Prompt + tokens generated so far, oldest first. */
  tokens: ArrayLike<number>;
  /** Index in `tokens` where generation started, i.e. the prompt length. */
  generatedFrom: number;
}

/** Options checked and converted to the shapes the processors use. */
export interface ResolvedOptions {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  typicalP: number;
  repetitionPenalty: number;
  presencePenalty: number;
  frequencyPenalty: number;
  repetitionScope: PenaltyScope;
  countScope: PenaltyScope;
  noRepeatNgramSize: number;
  badWordsSingle: Int32Array;
  badWordsMulti: readonly Int32Array[];
  suppressTokens: Int32Array;
  beginSuppressTokens: Int32Array;
  biasIds: Int32Array;
  biasValues: Float64Array;
  vocabSize: number;
  topLogprobs: number;
  seed: number;
  /** The first option that reads the history, if any: calling without one is then an error. */
  historyNeededBy: string | undefined;
}

const MAX_ID = 0x7fffffff;

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return JSON.stringify(value);
  return String(value);
}

function fail(name: string, range: string, value: unknown): never {
  throw new RangeError(`${name} must be ${range}, got ${show(value)}`);
}

function isTokenId(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= MAX_ID;
}

function tokenIds(name: string, ids: readonly number[] | undefined, nonEmpty = false): Int32Array {
  if (ids === undefined) return new Int32Array(0);
  if (!Array.isArray(ids) || (nonEmpty && ids.length === 0))
    fail(name, `a${nonEmpty ? ' non-empty' : 'n'} array of integer token ids ≥ 0`, ids);
  ids.forEach((id, i) => {
    if (!isTokenId(id)) fail(`${name}[${i}]`, 'an integer token id ≥ 0', id);
  });
  return Int32Array.from(ids);
}

function inRange(name: string, value: number, lo: number, hi: number): number {
  if (typeof value !== 'number' || !(value >= lo && value <= hi))
    fail(name, `a number in [${lo}, ${hi}]`, value);
  return value;
}

function integer(name: string, value: number, min: number, note: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    fail(name, `an integer ≥ ${min}${note}`, value);
  return value;
}

/** Checks every option; a value out of range throws a `RangeError` naming the option and its range. */
export function resolveOptions(options: SamplerOptions): ResolvedOptions {
  const {
    temperature = 1,
    topK = 0,
    topP = 1,
    minP = 0,
    typicalP = 1,
    repetitionPenalty = 1,
    presencePenalty = 0,
    frequencyPenalty = 0,
    penaltyScope,
    noRepeatNgramSize = 0,
    badWordsIds,
    suppressTokens,
    beginSuppressTokens,
    logitBias,
    vocabSize,
    topLogprobs = 0,
    seed = 0,
  } = options;

  if (typeof temperature !== 'number' || !(temperature >= 0) || !Number.isFinite(temperature))
    fail('temperature', 'a finite number ≥ 0 (0 = greedy)', temperature);
  integer('topK', topK, 0, ' (0 = off)');
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1))
    fail('topP', 'in (0, 1] (1 = off)', topP);
  inRange('minP', minP, 0, 1);
  if (typeof typicalP !== 'number' || !(typicalP > 0 && typicalP <= 1))
    fail('typicalP', 'in (0, 1] (1 = off)', typicalP);
  if (
    typeof repetitionPenalty !== 'number' ||
    !(repetitionPenalty > 0) ||
    !Number.isFinite(repetitionPenalty)
  )
    fail('repetitionPenalty', 'a finite number > 0 (1 = off)', repetitionPenalty);
  inRange('presencePenalty', presencePenalty, -2, 2);
  inRange('frequencyPenalty', frequencyPenalty, -2, 2);
  if (penaltyScope !== undefined && penaltyScope !== 'generated' && penaltyScope !== 'all')
    fail('penaltyScope', "'generated' or 'all'", penaltyScope);
  integer('noRepeatNgramSize', noRepeatNgramSize, 0, ' (0 = off)');
  integer('topLogprobs', topLogprobs, 0, ' (0 = off)');
  if (typeof seed !== 'number' || !Number.isInteger(seed)) fail('seed', 'an integer', seed);
  if (vocabSize !== undefined) integer('vocabSize', vocabSize, 1, ' (unset = off)');

  const single: number[] = [];
  const multi: Int32Array[] = [];
  if (badWordsIds !== undefined) {
    if (!Array.isArray(badWordsIds))
      fail('badWordsIds', 'an array of non-empty arrays of token ids', badWordsIds);
    badWordsIds.forEach((seq, i) => {
      const ids = tokenIds(`badWordsIds[${i}]`, seq, true);
      if (ids.length === 1) single.push(ids[0]!);
      else multi.push(ids);
    });
  }

  const biasIds: number[] = [];
  const biasValues: number[] = [];
  if (logitBias !== undefined) {
    if (typeof logitBias !== 'object' || logitBias === null || Array.isArray(logitBias))
      fail('logitBias', 'an object mapping token ids to numbers', logitBias);
    for (const [key, value] of Object.entries(logitBias)) {
      // Object keys are strings: accept only the canonical spelling of a non-negative integer.
      const id = Number(key);
      if (!isTokenId(id) || String(id) !== key)
        fail('logitBias keys', 'integer token ids ≥ 0', key);
      inRange(`logitBias[${key}]`, value, -100, 100);
      biasIds.push(id);
      biasValues.push(value);
    }
  }

  const repetitionScope = penaltyScope ?? 'all';
  const countScope = penaltyScope ?? 'generated';
  const beginSuppress = tokenIds('beginSuppressTokens', beginSuppressTokens);
  const historyNeededBy =
    repetitionPenalty !== 1
      ? 'repetitionPenalty'
      : presencePenalty !== 0
        ? 'presencePenalty'
        : frequencyPenalty !== 0
          ? 'frequencyPenalty'
          : noRepeatNgramSize > 0
            ? 'noRepeatNgramSize'
            : multi.length > 0
              ? 'badWordsIds'
              : beginSuppress.length > 0
                ? 'beginSuppressTokens'
                : undefined;

  return {
    temperature,
    topK,
    topP,
    minP,
    typicalP,
    repetitionPenalty,
    presencePenalty,
    frequencyPenalty,
    repetitionScope,
    countScope,
    noRepeatNgramSize,
    badWordsSingle: Int32Array.from(single),
    badWordsMulti: multi,
    suppressTokens: tokenIds('suppressTokens', suppressTokens),
    beginSuppressTokens: beginSuppress,
    biasIds: Int32Array.from(biasIds),
    biasValues: Float64Array.from(biasValues),
    vocabSize: vocabSize ?? 0,
    topLogprobs,
    seed,
    historyNeededBy,
  };
}
