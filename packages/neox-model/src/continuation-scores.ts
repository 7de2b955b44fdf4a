// Log-likelihoods of continuations as lm-evaluation-harness computes them (`loglikelihood`
// requests), with the forward pass of a shared context run once. A multiple-choice question asks
// for several continuations of one context: each request's rows up to its first scored one (its
// "prefix") are the same, so the prefix runs once, its KV cache is copied to every choice, and only
// each choice's remaining tokens run. Everything is scored on the GPU (`unembedScores`): a row
// brings back 6 numbers, never its logits.
import type { Tensor } from '@pythiajs/tensor-core';
import { planSteps, stepTokenLimit } from './batch.js';
import { ForwardError, InvalidInputError } from './errors.js';
import { rowStarts } from './interpret.js';
import { KVCache } from './kv-cache.js';
import type { NeoXModel } from './model.js';
import { checkTokenIds } from './token-ids.js';
import { unembedScores } from './unembed-scores.js';

/**
 * One request: the model runs on `input`; its last `continuation.length` rows score
 * `continuation` (row input.length − n + j scores continuation[j]). Same shape as
 * @pythiajs/evals' LoglikelihoodTokens.
 */
export interface ContinuationRequest {
  input: ArrayLike<number>;
  continuation: ArrayLike<number>;
}

/** What {@link scoreContinuations} gives for one request. */
export interface ContinuationScore {
  /** Σ_j log p(continuation[j] | …), natural log (each row in f32, summed in float64). */
  logprob: number;
  /** Whether every continuation token was its row's argmax (the lowest id on ties). */
  isGreedy: boolean;
}

/** Options of {@link scoreContinuations}. */
export interface ScoreContinuationsOptions {
  /**
   * Log-softmax, argmax over the first vocabSize columns of each logits row only (harness v0.3.0
   * hf-causal: 50257). Default: whole row.
   */
  vocabSize?: number;
}

/** Options of {@link scoreContinuationGroups}. */
export interface ScoreGroupsOptions extends ScoreContinuationsOptions {
  /** Groups scored per call of {@link scoreContinuations}, their requests together. Default 8. */
  batch?: number;
  /** After each call: how many groups are scored so far. */
  onProgress?: (done: number) => void;
}

/**
 * {@link scoreContinuations} for groups of requests, such as an evaluation's documents (each its
 * choices): `batch` groups per call, so that the GPU runs many requests at once and a question's
 * choices still share their context, with progress after each call. Each group's scores, in
 * order; the numbers are those of scoring each group alone.
 *
 * @example
 * ```ts
 * const perDocument = await scoreContinuationGroups(model, documents, {
 *   batch: 16,
 *   vocabSize: 50257,
 *   onProgress: (done) => console.error(`${done}/${documents.length}`),
 * });
 * ```
 * @throws {ForwardError} `batch` is not a positive integer; and what {@link scoreContinuations}
 *   throws, for the first call that meets it.
 */
export async function scoreContinuationGroups(
  model: NeoXModel,
  groups: readonly (readonly ContinuationRequest[])[],
  options: ScoreGroupsOptions = {},
): Promise<ContinuationScore[][]> {
  const batch = options.batch ?? 8;
  if (!Number.isInteger(batch) || batch < 1) {
    throw new ForwardError(
      `scoreContinuationGroups: batch must be a positive integer, got ${batch}`,
    );
  }
  const scored: ContinuationScore[][] = [];
  for (let first = 0; first < groups.length; first += batch) {
    const calls = groups.slice(first, first + batch);
    const scores = await scoreContinuations(model, calls.flat(), options);
    let at = 0;
    for (const group of calls) {
      scored.push(scores.slice(at, at + group.length));
      at += group.length;
    }
    options.onProgress?.(scored.length);
  }
  return scored;
}

/**
 * A chunk's KV cache (every layer's keys and values) takes at most this many bytes, or the rows of
 * one full context when those are more (the cache `estimateMemory` counts); the device's binding
 * limit caps it in any case.
 */
const CHUNK_CACHE_BYTES = 256 * 2 ** 20;

/** A request, checked: ids as the GPU takes them, and the length of its prefix. */
interface Checked {
  input: Uint32Array;
  continuation: Uint32Array;
  /** input.length − continuation.length + 1: the ids up to and including the first scored row. */
  prefix: number;
}

/**
 * Requests with one prefix that run in one chunk. The first runs the prefix in its slot; the
 * others with more ids to run get a slot each, into which the prefix is copied; a one-id
 * continuation needs only the prefix's last row, so the others with one get none.
 */
interface SubGroup {
  prefix: number;
  members: number[];
  /** The members with a slot: the first, then those with a longer continuation, in order. */
  slotted: number[];
}

/** A row of a step's hidden states to score: it scores continuation[j] of request `request`. */
type RowPick = [row: number, request: number, j: number];

/** Sub-groups that share one batch KV cache; a slot holds its request's whole input. */
interface Chunk {
  subGroups: SubGroup[];
  rows: number;
}

/**
 * Scores continuations as lm-evaluation-harness's `loglikelihood` does: for each request, the sum
 * of the log-probabilities of its continuation's tokens and whether each was the model's top
 * choice. The log-softmax, the gathers and the argmax run on the GPU; results come in request
 * order.
 *
 * Requests whose inputs agree up to and including their first scored row (the choices of a
 * multiple-choice question, anywhere in the list) run that prefix once: its last row scores each
 * one's first continuation id, its keys and values are copied into each request's part of a batch
 * KV cache (a one-id continuation needs none), and each request then runs only its remaining
 * `continuation.length − 1` ids, all requests packed together. Requests are taken in
 * chunks that fit the device (the cache's binding, and steps of activations); a group too large
 * for one chunk runs its prefix once per chunk, and an input too long for one step runs in
 * several that continue in the cache.
 *
 * @example
 * ```ts
 * // "The capital of France is" with two choices; input = context + continuation less its last id.
 * const context = tokenizer.encode('The capital of France is');
 * const scores = await scoreContinuations(
 *   model,
 *   [' Paris', ' Rome'].map((choice) => {
 *     const continuation = tokenizer.encode(choice);
 *     return { input: [...context, ...continuation].slice(0, -1), continuation };
 *   }),
 *   { vocabSize: 50257 },
 * );
 * const best = scores[0].logprob > scores[1].logprob ? 'Paris' : 'Rome';
 * ```
 * @throws {InvalidInputError} (naming the request) an empty continuation, a continuation longer
 *   than the input, an input longer than the model's context (`ContextOverflowError`), an input id
 *   outside the vocabulary (`TokenOutOfVocabularyError`) or a continuation id at or above the
 *   columns scored.
 * @throws {ForwardError} `vocabSize` is not an integer in [1, the model's vocabulary], or an
 *   input is too long for a KV cache on this device.
 */
export async function scoreContinuations(
  model: NeoXModel,
  requests: readonly ContinuationRequest[],
  options: ScoreContinuationsOptions = {},
): Promise<ContinuationScore[]> {
  const { config, device } = model;
  const vocabSize = options.vocabSize ?? config.vocabSize;
  if (!Number.isInteger(vocabSize) || vocabSize < 1 || vocabSize > config.vocabSize) {
    throw new ForwardError(
      `scoreContinuations: vocabSize must be an integer from 1 to the model's ${config.vocabSize} logits, got ${options.vocabSize}`,
    );
  }
  // Everything is checked before any work, so a bad request costs nothing.
  const checked = requests.map((request, i) => checkRequest(request, i, config, vocabSize));
  if (checked.length === 0) return [];

  const binding = device.limits.maxStorageBufferBindingSize;
  // The rows a batch cache may hold: KVCache.create's limit (one layer's keys are one binding).
  const maxRows = Math.floor(binding / (config.numHeads * config.headDim * 4));
  for (const [i, c] of checked.entries()) {
    if (c.input.length > maxRows) {
      throw new ForwardError(
        `request ${i}: an input of ${c.input.length} tokens needs a KV cache of more rows than ` +
          `this device's largest binding (${binding} bytes) holds (${maxRows}); shorten it or use a device with a larger maxStorageBufferBindingSize`,
      );
    }
  }
  const bytesPerRow = 2 * config.numLayers * config.numHeads * config.headDim * 4;
  const budget = Math.min(
    maxRows,
    Math.max(config.maxPositions, Math.floor(CHUNK_CACHE_BYTES / bytesPerRow)),
  );
  const stepLimit = stepTokenLimit(config, binding, false);

  // Row logprobs by request and continuation index, summed in order at the end, so that the sum
  // does not depend on how the requests were chunked.
  const logprobs = checked.map((c) => new Float64Array(c.continuation.length));
  const greedy = checked.map(() => true);
  for (const chunk of planChunks(groupByPrefix(checked), checked, budget)) {
    await runChunk(model, chunk, checked, { vocabSize, stepLimit, logprobs, greedy });
  }
  return logprobs.map((rows, i) => {
    let logprob = 0;
    for (const value of rows) logprob += value;
    return { logprob, isGreedy: greedy[i]! };
  });
}

function checkRequest(
  request: ContinuationRequest,
  i: number,
  config: NeoXModel['config'],
  vocabSize: number,
): Checked {
  const { input, continuation } = request ?? {};
  if (typeof input?.length !== 'number' || typeof continuation?.length !== 'number') {
    throw new InvalidInputError(
      `request ${i}: give { input, continuation }, each an array of token ids`,
    );
  }
  const n = continuation.length;
  if (n === 0) {
    throw new InvalidInputError(
      `request ${i}: the continuation is empty; give at least one token to score`,
    );
  }
  if (input.length < n) {
    throw new InvalidInputError(
      `request ${i}: the continuation has ${n} tokens but the input only ${input.length}; the ` +
        "input's last n rows score the continuation, so it needs at least n tokens (build it as " +
        'context + continuation without its last token, with a context of at least one token)',
    );
  }
  const named = <T>(what: string, check: () => T): T => {
    try {
      return check();
    } catch (error) {
      if (error instanceof InvalidInputError)
        error.message = `request ${i}: ${what}: ${error.message}`;
      throw error;
    }
  };
  const ids = named('input', () => checkTokenIds(input, config));
  const targets = named('continuation', () =>
    checkTokenIds(continuation, config, { room: Number.POSITIVE_INFINITY }),
  );
  for (const [j, id] of targets.entries()) {
    if (id >= vocabSize) {
      throw new InvalidInputError(
        `request ${i}: continuation id ${id} at position ${j} is not below vocabSize ${vocabSize}, ` +
          'the logits columns scored, so it has no probability; check the ids or the vocabSize option',
      );
    }
  }
  return { input: ids, continuation: targets, prefix: ids.length - n + 1 };
}

/** Request indices grouped by identical prefixes, groups in order of first appearance. */
function groupByPrefix(checked: readonly Checked[]): number[][] {
  const groups = new Map<string, number[]>();
  for (const [i, c] of checked.entries()) {
    const key = c.input.subarray(0, c.prefix).join(',');
    const group = groups.get(key);
    if (group) group.push(i);
    else groups.set(key, [i]);
  }
  return [...groups.values()];
}

/**
 * Groups in order into chunks of at most `budget` cache rows (a slot holds its request's whole
 * input). A group that does not fit what is left of a chunk starts the next one, and one larger
 * than a chunk is split into sub-groups, each running the prefix again.
 */
function planChunks(groups: number[][], checked: readonly Checked[], budget: number): Chunk[] {
  const chunks: Chunk[] = [];
  let chunk: Chunk = { subGroups: [], rows: 0 };
  const close = () => {
    if (chunk.subGroups.length > 0) chunks.push(chunk);
    chunk = { subGroups: [], rows: 0 };
  };
  /** Rows a request takes: its input, for the first of a sub-group or one with ids to run. */
  const rowsOf = (r: number, first: boolean) =>
    first || checked[r]!.continuation.length > 1 ? checked[r]!.input.length : 0;
  for (const group of groups) {
    const need = group.reduce((n, r, k) => n + rowsOf(r, k === 0), 0);
    if (chunk.rows + need > budget && need <= budget) close();
    let sub: SubGroup | undefined;
    for (const r of group) {
      if (chunk.rows + rowsOf(r, sub === undefined) > budget) {
        close();
        sub = undefined;
      }
      const rows = rowsOf(r, sub === undefined);
      if (!sub) {
        sub = { prefix: checked[r]!.prefix, members: [], slotted: [] };
        chunk.subGroups.push(sub);
      }
      sub.members.push(r);
      if (rows > 0) sub.slotted.push(r);
      chunk.rows += rows;
    }
  }
  close();
  return chunks;
}

/**
 * Runs one chunk through a batch cache with the sub-groups' slots: every sub-group's prefix in
 * the slot of its first member (steps of at most `stepLimit` tokens, the other slots sitting out),
 * the prefix copied to its other slots, then every slot's remaining ids packed (steps again).
 * Each scored row's logprob and argmax land in `logprobs` and `greedy`.
 */
async function runChunk(
  model: NeoXModel,
  chunk: Chunk,
  checked: readonly Checked[],
  run: { vocabSize: number; stepLimit: number; logprobs: Float64Array[]; greedy: boolean[] },
): Promise<void> {
  const slots = chunk.subGroups.flatMap((g) => g.slotted);
  const firstSlots: number[] = [];
  let at = 0;
  for (const g of chunk.subGroups) {
    firstSlots.push(at);
    at += g.slotted.length;
  }
  const cache = KVCache.create(
    model.device,
    model.config,
    slots.map((r) => checked[r]!.input.length),
  );
  const reads: Promise<void>[] = [];
  const score = (hidden: Tensor<'f32'>, picks: RowPick[]) => {
    if (picks.length === 0) return;
    const targets = Uint32Array.from(picks, ([, r, j]) => checked[r]!.continuation[j]!);
    const rows = Uint32Array.from(picks, ([row]) => row);
    const read = unembedScores(model, hidden, rows, { targets, vocabSize: run.vocabSize }).then(
      (scores) => {
        for (const [k, [, r, j]] of picks.entries()) {
          run.logprobs[r]![j] = scores.targetLogprob![k]!;
          if (scores.argmax[k] !== targets[k]) run.greedy[r] = false;
        }
      },
    );
    reads.push(read);
  };
  try {
    // 1. Each sub-group's prefix, in its first slot; its last row scores every member's first id.
    const prefixCounts = slots.map(() => 0);
    chunk.subGroups.forEach((g, k) => {
      prefixCounts[firstSlots[k]!] = g.prefix;
    });
    for (const step of planSteps(prefixCounts, run.stepLimit)) {
      const sequences = step.map(([start, end], s) =>
        checked[slots[s]!]!.input.subarray(start, end),
      );
      const { hidden, counts } = model.hiddenBatch(sequences, { cache });
      const starts = rowStarts(counts);
      const picks: RowPick[] = [];
      chunk.subGroups.forEach((g, k) => {
        const first = firstSlots[k]!;
        const [start, end] = step[first]!;
        if (end === g.prefix && end > start) {
          for (const r of g.members) picks.push([starts[first]! + end - start - 1, r, 0]);
        }
      });
      score(hidden, picks);
      hidden.dispose();
    }
    // 2. The prefix into the other slots of its sub-group.
    chunk.subGroups.forEach((g, k) => {
      const first = firstSlots[k]!;
      if (g.slotted.length > 1) {
        const others = g.slotted.slice(1).map((_, m) => first + 1 + m);
        cache.copyPrefix(first, others, g.prefix);
      }
    });
    // 3. Every request's remaining ids, packed: row p + t scores continuation[t + 1].
    const suffixCounts = slots.map((r) => checked[r]!.continuation.length - 1);
    for (const step of planSteps(suffixCounts, run.stepLimit)) {
      const sequences = step.map(([start, end], s) => {
        const c = checked[slots[s]!]!;
        return c.input.subarray(c.prefix + start, c.prefix + end);
      });
      const { hidden, counts } = model.hiddenBatch(sequences, { cache });
      const starts = rowStarts(counts);
      const picks: RowPick[] = [];
      for (const [s, [start, end]] of step.entries()) {
        for (let t = start; t < end; t++) picks.push([starts[s]! + t - start, slots[s]!, t + 1]);
      }
      score(hidden, picks);
      hidden.dispose();
    }
    await Promise.all(reads);
  } catch (error) {
    // Reads recorded before the failure must not reject unhandled.
    for (const read of reads) read.catch(() => {});
    throw error;
  } finally {
    cache.dispose();
  }
}
