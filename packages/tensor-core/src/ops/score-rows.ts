import { ShapeError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import { scoreRowsWgsl } from '../kernels/score-rows.js';
import { Tensor } from '../tensor.js';
import { checkDType, checkSameDevice, rowsAndColumns } from './checks.js';

/**
 * The fields of each row of {@link scoreRows}' output, in column order: `out[r * 6 + i]` is
 * field `ROW_SCORE_FIELDS[i]` of row r.
 *
 * - `targetLogprob`: log p(targets[r]); NaN when no targets were given.
 * - `logsumexp`: log Σ exp(logits), so that log p(i) = logits[i] − logsumexp.
 * - `entropy`: −Σ p log p, in nats.
 * - `rank`: how many ids have a logit strictly greater than the target's (0: the target is an
 *   argmax); NaN when no targets were given, −1 when a target tensor held an id ≥ vocabSize.
 * - `argmax`: the id of the largest logit, the lowest one on ties.
 * - `maxLogprob`: log p(argmax).
 *
 * `rank` and `argmax` are integers below 2^24, so f32 holds them exactly.
 */
export const ROW_SCORE_FIELDS = [
  'targetLogprob',
  'logsumexp',
  'entropy',
  'rank',
  'argmax',
  'maxLogprob',
] as const;

/** A name in {@link ROW_SCORE_FIELDS}. */
export type RowScoreField = (typeof ROW_SCORE_FIELDS)[number];

const FIELDS = ROW_SCORE_FIELDS.length;
// Above this, f32 no longer holds every integer id and rank exactly.
const MAX_WIDTH = 2 ** 24;
// A quiet NaN's bits, handed to the kernel as a uniform (WGSL has no NaN constant).
const NAN_BITS = 0x7fc00000;

/** Options of {@link scoreRows}. */
export interface ScoreRowsOptions {
  /**
   * Score over the first `vocabSize` columns only (the softmax, entropy, rank and argmax ignore
   * the rest). Default: the whole row, as Hugging Face does. Pythia's logits are 50304 wide but
   * its tokenizer has 50277 ids; pass 50277 to leave the padding ids out.
   */
  vocabSize?: number;
}

/**
 * Scores each row of logits f32 [..., V] on the GPU, so that evaluation reads back 6 numbers per
 * row instead of V: returns f32 [..., 6] holding, per row, the target's log-probability, the
 * logsumexp, the entropy, the target's rank, the argmax and its log-probability, in the order of
 * {@link ROW_SCORE_FIELDS}; {@link readRowScores} turns it into named arrays. One dispatch (one
 * per row chunk of logits stored in chunks, see `Tensor.chunks`), f32 arithmetic against each
 * row's max, so logits of any magnitude neither overflow nor lose the log-probabilities' digits.
 *
 * `targets` (u32, one id per row, any shape) may be a `Uint32Array`, whose ids are checked here,
 * or a tensor already on the GPU, whose ids the kernel checks: an id ≥ vocabSize gives rank −1,
 * which makes {@link readRowScores} throw rather than report a made-up score.
 *
 * For the top-k alternatives with their log-probabilities, combine with `topk` rather than asking
 * this op for more: `topk(logits, k)` returns the k largest logits, and `value − logsumexp` is
 * each one's log-probability (with `vocabSize` < V, drop the ids ≥ vocabSize that topk may
 * return, e.g. by asking for a few more). `rank < k` tells whether the target is among the top k
 * (up to ties, which topk breaks toward the lower id).
 *
 * @throws {ShapeError} logits are not f32, have empty rows or rows above 2^24; targets are not
 *   u32, or not one per row, or (a Uint32Array) hold an id ≥ vocabSize; vocabSize is not an
 *   integer in [1, V].
 *
 * @example
 * ```ts
 * // Per-token loss: logits [T − 1, V] are the model's outputs at ids[0 … T − 2], each row
 * // predicting the next id.
 * const scores = await readRowScores(scoreRows(logits, ids.subarray(1), { vocabSize: 50277 }));
 * const nll = scores.targetLogprob!.map((lp) => -lp); // nats per token
 * // The 5 likeliest next ids of row r with their log-probabilities: topk's logits − logsumexp.
 * const top = topk(logits, 5);
 * const [values, topIds] = await Promise.all([top.values.read(), top.indices.read()]);
 * const logprobs = values.subarray(5 * r, 5 * r + 5).map((v) => v - scores.logsumexp[r]!);
 * ```
 */
export function scoreRows(
  logits: Tensor<'f32'>,
  targets?: Tensor<'u32'> | Uint32Array,
  options: ScoreRowsOptions = {},
): Tensor<'f32'> {
  checkDType('scoreRows', 'logits', logits, 'f32');
  const [rows, cols] = rowsAndColumns('scoreRows', logits);
  if (cols === 0) throw new ShapeError(`scoreRows: ${logits.toString()} has empty rows`);
  const width = options.vocabSize ?? cols;
  if (!Number.isInteger(width) || width < 1 || width > cols) {
    throw new ShapeError(
      `scoreRows: vocabSize must be an integer in [1, ${cols}] (the logits' last dimension), got ${width}`,
    );
  }
  if (width > MAX_WIDTH) {
    throw new ShapeError(
      `scoreRows: rows of ${width} ids exceed 2^24, above which f32 cannot hold ids exactly`,
    );
  }
  const device = logits.device;
  if (targets instanceof Tensor) {
    checkDType('scoreRows', 'targets', targets, 'u32');
    checkSameDevice('scoreRows', logits, targets);
  } else if (targets !== undefined) {
    if (!(targets instanceof Uint32Array)) {
      throw new ShapeError(
        `scoreRows: targets must be a Uint32Array or a u32 tensor, got ${typeName(targets)}`,
      );
    }
    checkTargetIds(targets, width);
  }
  const count = targets instanceof Tensor ? targets.size : targets?.length;
  if (count !== undefined && count !== rows) {
    throw new ShapeError(
      `scoreRows: targets need one id per row of ${logits.toString()} (${rows}), got ${count}`,
    );
  }
  const out = device.empty([...logits.shape.slice(0, -1), FIELDS], 'f32');
  if (rows === 0) return out;
  const targetTensor = targets instanceof Uint32Array ? device.tensor(targets) : targets;
  const code = scoreRowsWgsl(targetTensor !== undefined);
  let firstRow = 0;
  for (const chunk of logits.chunks) {
    // A chunk holds whole rows of the first dimension, so a whole number of rows of length cols.
    const chunkRows = chunk.size / cols;
    device.dispatch({
      code,
      bindings: [chunk.buffer, ...(targetTensor ? [targetTensor] : []), out],
      uniforms: new Uint32Array([chunkRows, cols, width, firstRow, NAN_BITS]),
      workgroups: workgroupGrid(chunkRows, device.limits.maxComputeWorkgroupsPerDimension),
    });
    firstRow += chunkRows;
  }
  // An uploaded copy is freed once the dispatches above have been submitted.
  if (targets instanceof Uint32Array) targetTensor?.dispose();
  return out;
}

/**
 * {@link scoreRows}' output as named per-row arrays. `targetLogprob` and `rank` are present only
 * when scoreRows was given targets.
 */
export interface RowScores {
  /** log p(target) per row. */
  targetLogprob?: Float32Array<ArrayBuffer>;
  /** Ids with a strictly greater logit than the target's (0: the target is an argmax). */
  rank?: Uint32Array<ArrayBuffer>;
  /** log Σ exp(logits): log p(i) = logits[i] − logsumexp. */
  logsumexp: Float32Array<ArrayBuffer>;
  /** −Σ p log p, in nats. */
  entropy: Float32Array<ArrayBuffer>;
  /** The most likely id, the lowest one on ties. */
  argmax: Uint32Array<ArrayBuffer>;
  /** log p(argmax). */
  maxLogprob: Float32Array<ArrayBuffer>;
}

/**
 * Reads {@link scoreRows}' output back (after all work recorded before) and splits it into named
 * per-row arrays; see {@link unpackRowScores}.
 *
 * @throws {ShapeError} `scores` is not f32 [..., 6], or a target id given as a tensor was out of
 *   range (that row's score does not exist).
 *
 * @example
 * ```ts
 * const { targetLogprob, entropy, rank } = await readRowScores(scoreRows(logits, targets));
 * ```
 */
export async function readRowScores(scores: Tensor<'f32'>): Promise<RowScores> {
  checkDType('readRowScores', 'scores', scores, 'f32');
  if (scores.shape[scores.shape.length - 1] !== FIELDS) {
    throw new ShapeError(
      `readRowScores: scores must be scoreRows' output, f32 [..., ${FIELDS}], got ${scores.toString()}`,
    );
  }
  return unpackRowScores(await scores.read());
}

/**
 * Splits {@link scoreRows}' output, already read back (`rows × 6` numbers in the order of
 * {@link ROW_SCORE_FIELDS}), into named per-row arrays.
 *
 * @throws {ShapeError} the length is not a multiple of 6, or a row's rank is −1 (its target id,
 *   given as a tensor, was ≥ vocabSize) or NaN in some rows only (not scoreRows' output).
 *
 * @example
 * ```ts
 * const { logsumexp, argmax } = unpackRowScores(await scoreRows(logits).read());
 * ```
 */
export function unpackRowScores(data: Float32Array): RowScores {
  if (data.length % FIELDS !== 0) {
    throw new ShapeError(
      `unpackRowScores: expected ${FIELDS} numbers per row (scoreRows' output), got ${data.length}`,
    );
  }
  const rows = data.length / FIELDS;
  const field = (name: RowScoreField): Float32Array<ArrayBuffer> => {
    const i = ROW_SCORE_FIELDS.indexOf(name);
    return Float32Array.from({ length: rows }, (_, r) => data[r * FIELDS + i]!);
  };
  const rank = field('rank');
  const scores: RowScores = {
    logsumexp: field('logsumexp'),
    entropy: field('entropy'),
    argmax: Uint32Array.from(field('argmax')),
    maxLogprob: field('maxLogprob'),
  };
  // scoreRows writes NaN ranks in every row or in none: NaN means "called without targets".
  const withTargets = rows > 0 && !Number.isNaN(rank[0]!);
  for (let r = 0; r < rows; r++) {
    const value = rank[r]!;
    if (Number.isNaN(value) === withTargets) {
      throw new ShapeError(
        `unpackRowScores: row ${r} has ${withTargets ? 'no' : 'a'} target rank while row 0 ` +
          `${withTargets ? 'has' : 'has none'}; this is not the output of one scoreRows call`,
      );
    }
    if (value === -1) {
      throw new ShapeError(
        `scoreRows: row ${r}'s target id is not below vocabSize, so it has no probability; ` +
          'check the targets (a Uint32Array is checked before the GPU runs, naming the id)',
      );
    }
  }
  if (withTargets) {
    scores.targetLogprob = field('targetLogprob');
    scores.rank = Uint32Array.from(rank);
  }
  return scores;
}

/** Throws on the first id ≥ width, naming its row, so no row is scored against a wrong id. */
function checkTargetIds(targets: Uint32Array, width: number): void {
  for (let r = 0; r < targets.length; r++) {
    if (targets[r]! >= width) {
      throw new ShapeError(
        `scoreRows: targets[${r}] = ${targets[r]} is not below vocabSize ${width}; ids must ` +
          'index the scored columns',
      );
    }
  }
}

function typeName(value: unknown): string {
  return (value as object | null)?.constructor?.name ?? typeof value;
}
