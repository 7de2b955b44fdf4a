import { MAX_TOPK } from '@pythiajs/tensor-core';
import { ForwardError, InvalidInputError, TokenOutOfVocabularyError } from './errors.js';
import type { HookRunner } from './hooks.js';
import { type Batch, isBatch, rowStarts } from './interpret.js';
import type { NeoXModel } from './model.js';
import { type UnembedRows, unembedRows } from './unembed-scores.js';

/**
 * One layer of a logit lens: what the residual stream at that point predicts, at each position
 * the lens looks at (every position by default, else `positions`' in their order).
 */
export interface LensLayer {
  /** `hook_embed`, or `blocks.{l}.hook_resid_post`. */
  name: string;
  /** The most likely next token at each position (the lowest id on ties). */
  topIds: number[];
  /** Its probability. */
  topProbs: number[];
  /**
   * With `topK: k`: the k most likely tokens at each position and their probabilities,
   * row-major `[positions × k]`, best first, ties to the lower id.
   */
  topK?: { ids: Uint32Array; probs: Float32Array };
  /**
   * With `tokens`: the chosen token's log-probability (natural log), probability and rank (how
   * many ids have a strictly larger logit; 0: it is a top choice) at each position. With
   * `'next'`, the last position of the sequence has no next token: its `logprob` and `prob` are
   * NaN and its `rank` is {@link NO_RANK}.
   */
  chosen?: { logprob: Float32Array; prob: Float32Array; rank: Uint32Array };
  /** With `full`: the whole distribution, row-major `[positions × vocab]`. */
  probs?: Float32Array;
}

/** `chosen.rank` where there is no token to rank (the last position, with `tokens: 'next'`). */
export const NO_RANK = 0xffffffff;

/** Options of {@link logitLens} for one sequence. */
export interface LogitLensOptions {
  /** Also the k most likely tokens per position and layer, 1 ≤ k ≤ 64 (tensor-core's `MAX_TOPK`). */
  topK?: number;
  /**
   * A token per position whose probability and rank to follow through the layers: one id per
   * position the lens looks at (`positions`' length when given, else the sequence's), or
   * `'next'`, the actual next token (`ids[t + 1]`).
   */
  tokens?: ArrayLike<number> | 'next';
  /**
   * Also the whole distribution of every position and layer. This reads back `vocab` numbers
   * per position and layer (50304 × 4 bytes for Pythia), so prefer `topK` and `tokens`.
   */
  full?: boolean;
  /**
   * The positions to look at, in this order (default: all). A negative one counts from the
   * end, as in Python: −1 is the last token of each sequence.
   */
  positions?: readonly number[];
}

/** Options of {@link logitLens} for a batch: `tokens` has one array per sequence. */
export interface BatchLogitLensOptions extends Omit<LogitLensOptions, 'tokens'> {
  /** Per sequence, a token per position it looks at (see {@link LogitLensOptions.tokens}), or `'next'`. */
  tokens?: ReadonlyArray<ArrayLike<number>> | 'next';
}

/**
 * The logit lens: the final LayerNorm and unembedding applied to the residual stream after the
 * embedding and after every block, so one sees what each layer "would predict". The last layer's
 * row is the model's own prediction. Each layer's logits are reduced on the GPU, a block of rows
 * at a time: to the top token and its probability, and as `options` asks, the top k, the
 * probability and rank of a chosen token per position, or the whole distribution. Probabilities
 * come from the log-softmax over the whole vocabulary (its logsumexp computed on the GPU).
 *
 * Given a batch (an array of sequences), they run packed in one pass and each gets its layers;
 * `positions` then applies to every sequence (use negative positions for "the last token").
 *
 * @example
 * ```ts
 * const layers = await logitLens(model, ids, { topK: 5, tokens: 'next' });
 * layers.at(-1).topIds; // the model's own greedy prediction at every position
 * layers.map((l) => l.chosen?.prob[3]); // p(ids[4] | ids[0…3]) after each layer
 * layers[2].topK?.ids.subarray(0, 5); // layer 1's five likeliest tokens at position 0
 * // The last token of each sequence only, with the whole distribution ([1 × vocab] per layer).
 * const [a, b] = await logitLens(model, [idsA, idsB], { positions: [-1], full: true });
 * ```
 * @throws {ForwardError} `topK` not an integer in [1, 64]; a position not in the sequence.
 * @throws {InvalidInputError} `tokens` not one per looked-at position (per sequence);
 *   {@link TokenOutOfVocabularyError} a chosen token outside the vocabulary.
 */
export async function logitLens(
  model: NeoXModel,
  ids: ArrayLike<number>,
  options?: LogitLensOptions,
): Promise<LensLayer[]>;
export async function logitLens(
  model: NeoXModel,
  batch: Batch,
  options?: BatchLogitLensOptions,
): Promise<LensLayer[][]>;
export async function logitLens(
  model: NeoXModel,
  ids: ArrayLike<number> | Batch,
  options: LogitLensOptions | BatchLogitLensOptions = {},
): Promise<LensLayer[] | LensLayer[][]> {
  const { config } = model;
  const batched = isBatch(ids);
  const sequences = batched ? ids : [ids];
  const { topK, full = false } = options;
  const maxK = Math.min(MAX_TOPK, config.vocabSize);
  if (topK !== undefined && (!Number.isInteger(topK) || topK < 1 || topK > maxK)) {
    throw new ForwardError(`topK must be an integer from 1 to ${maxK}, got ${topK}`);
  }
  const positions = sequences.map((s, i) => lensPositions(options.positions, s.length, batched, i));
  const chosen = chosenTokens(options.tokens, sequences, positions, batched, config.vocabSize);

  const names = [
    'hook_embed',
    ...Array.from({ length: config.numLayers }, (_, l) => `blocks.${l}.hook_resid_post`),
  ];
  const wanted = new Set(names);
  const reads = new Map<string, Promise<UnembedRows>>();
  let rows: Uint32Array | undefined;
  const runner: HookRunner = {
    wants: (name) => wanted.has(name),
    visit: (name, t, step) => {
      // Recorded while the residual is alive; read back after the run. Row t of sequence i is
      // packed row starts[i] + t (a batch without cache starts every sequence at position 0).
      if (rows === undefined) {
        const starts = rowStarts(step.counts);
        rows = Uint32Array.from(positions.flatMap((ps, i) => ps.map((p) => starts[i]! + p)));
      }
      reads.set(
        name,
        unembedRows(model, t, rows, {
          finalNorm: true,
          targets: chosen?.targets,
          topK,
          logits: full,
        }),
      );
      return t;
    },
  };
  const { hidden } = model.hiddenBatch(sequences, { hooks: runner });
  hidden.dispose();

  const firstRows = rowStarts(positions.map((p) => p.length));
  const perSequence: LensLayer[][] = sequences.map(() => []);
  const vocab = config.vocabSize;
  for (const name of names) {
    const { scores, top, logits } = await reads.get(name)!;
    const { argmax, maxLogprob, logsumexp } = scores;
    positions.forEach((ps, i) => {
      const from = firstRows[i]!;
      const to = from + ps.length;
      const layer: LensLayer = {
        name,
        topIds: Array.from(argmax.subarray(from, to)),
        topProbs: Array.from(maxLogprob.subarray(from, to), Math.exp),
      };
      if (top && topK !== undefined) {
        const ids = top.ids.slice(from * topK, to * topK);
        const probs = new Float32Array(ids.length);
        for (let r = 0; r < ps.length; r++) {
          for (let j = 0; j < topK; j++) {
            const at = r * topK + j;
            probs[at] = Math.exp(top.logits[from * topK + at]! - logsumexp[from + r]!);
          }
        }
        layer.topK = { ids, probs };
      }
      if (chosen) {
        // No rows at all read back no targets: the arrays are then empty.
        const logprob = (scores.targetLogprob ?? new Float32Array(0)).slice(from, to);
        const rank = (scores.rank ?? new Uint32Array(0)).slice(from, to);
        for (let r = 0; r < ps.length; r++) {
          if (!chosen.scored[from + r]) {
            logprob[r] = Number.NaN;
            rank[r] = NO_RANK;
          }
        }
        layer.chosen = { logprob, prob: logprob.map(Math.exp), rank };
      }
      if (logits) {
        const probs = new Float32Array(ps.length * vocab);
        for (let r = 0; r < ps.length; r++) {
          const lse = logsumexp[from + r]!;
          const offset = (from + r) * vocab;
          for (let v = 0; v < vocab; v++)
            probs[r * vocab + v] = Math.exp(logits[offset + v]! - lse);
        }
        layer.probs = probs;
      }
      perSequence[i]!.push(layer);
    });
  }
  return batched ? perSequence : perSequence[0]!;
}

/** The positions of a sequence of `length` tokens the lens looks at, negative ones resolved. */
function lensPositions(
  given: readonly number[] | undefined,
  length: number,
  batched: boolean,
  sequence: number,
): number[] {
  if (given === undefined) return Array.from({ length }, (_, t) => t);
  if (!Array.isArray(given)) {
    throw new ForwardError(`positions must be an array of positions, got ${String(given)}`);
  }
  return given.map((p, i) => {
    if (!Number.isInteger(p) || p < -length || p >= length) {
      const of = batched ? `sequence ${sequence}, of ${length} tokens` : `the ${length} tokens`;
      throw new ForwardError(
        `positions[${i}] = ${p} is not a position of ${of}; give integers from ${-length} to ${length - 1}`,
      );
    }
    return p < 0 ? p + length : p;
  });
}

/**
 * The chosen token of every looked-at row, packed sequence after sequence, and whether it has
 * one (`'next'` has none at a sequence's last position; its target is a placeholder 0).
 */
function chosenTokens(
  tokens: LogitLensOptions['tokens'] | BatchLogitLensOptions['tokens'],
  sequences: Batch,
  positions: number[][],
  batched: boolean,
  vocabSize: number,
): { targets: Uint32Array; scored: boolean[] } | undefined {
  if (tokens === undefined) return undefined;
  const targets: number[] = [];
  const scored: boolean[] = [];
  if (tokens === 'next') {
    sequences.forEach((s, i) => {
      for (const p of positions[i]!) {
        const has = p + 1 < s.length;
        targets.push(has ? s[p + 1]! : 0);
        scored.push(has);
      }
    });
    return { targets: Uint32Array.from(targets), scored };
  }
  if (typeof tokens === 'string') {
    throw new InvalidInputError(
      `tokens must be token ids or 'next', got ${JSON.stringify(tokens)}`,
    );
  }
  const perSequence = (batched ? tokens : [tokens]) as ReadonlyArray<ArrayLike<number>>;
  if (batched && (!Array.isArray(tokens) || perSequence.length !== sequences.length)) {
    throw new InvalidInputError(
      `tokens must hold one array of ids per sequence (${sequences.length}), got ${
        Array.isArray(tokens) ? tokens.length : typeof tokens
      }`,
    );
  }
  perSequence.forEach((chosen, i) => {
    const want = positions[i]!.length;
    const of = batched ? `tokens[${i}]` : 'tokens';
    if (chosen === null || typeof chosen !== 'object' || chosen.length !== want) {
      throw new InvalidInputError(
        `${of} must hold one id per position the lens looks at (${want}), got ${
          (chosen as { length?: number } | null)?.length ?? typeof chosen
        }`,
      );
    }
    for (let r = 0; r < want; r++) {
      const id = chosen[r]!;
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new TokenOutOfVocabularyError(id, r, vocabSize);
      }
      targets.push(id);
      scored.push(true);
    }
  });
  return { targets: Uint32Array.from(targets), scored };
}
