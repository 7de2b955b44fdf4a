// How a batch of sequences becomes one packed step, and how Hugging Face's padded layout
// (`input_ids` with an `attention_mask`) maps onto it. Packing is the layout the forward pass
// runs on: no row is spent on padding, and each sequence keeps its own positions.
import type { NeoXConfig } from './config.js';
import { InvalidInputError } from './errors.js';
import { checkTokenIds } from './token-ids.js';

/** A batch step: every sequence's ids back to back, and how many belong to each. */
export interface PackedStep {
  ids: Uint32Array;
  counts: number[];
}

/**
 * Checks each sequence of a batch (vocabulary, and room left in its part of the cache) and packs
 * them. A sequence may be empty when `allowEmpty` (a cached sequence that does not advance this
 * step), but not all of them.
 *
 * @throws {InvalidInputError} (or its subclasses) naming the sequence, as `checkTokenIds` does.
 */
export function packStep(
  sequences: ReadonlyArray<ArrayLike<number>>,
  config: Pick<NeoXConfig, 'vocabSize' | 'maxPositions'>,
  rooms: readonly number[],
  allowEmpty: boolean,
): PackedStep {
  if (sequences.length === 0) {
    throw new InvalidInputError('the batch is empty; give at least one sequence');
  }
  const checked: Uint32Array[] = [];
  for (const [i, ids] of sequences.entries()) {
    if (ids.length === 0 && allowEmpty) {
      checked.push(new Uint32Array(0));
      continue;
    }
    try {
      checked.push(checkTokenIds(ids, config, { room: rooms[i]! }));
    } catch (error) {
      if (error instanceof InvalidInputError && sequences.length > 1) {
        error.message = `sequence ${i} of the batch: ${error.message}`;
      }
      throw error;
    }
  }
  const counts = checked.map((c) => c.length);
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) {
    throw new InvalidInputError('every sequence of the batch is empty; give at least one token');
  }
  const ids = new Uint32Array(total);
  let at = 0;
  for (const c of checked) {
    ids.set(c, at);
    at += c.length;
  }
  return { ids, counts };
}

/** Padded ids and their mask, as rows of equal length. */
export interface PaddedBatch {
  /** The tokens of each row where the mask is 1, in order. */
  sequences: number[][];
  /** For each row, the column of each of its tokens (to scatter results back). */
  columns: number[][];
  /** Columns per row. */
  width: number;
}

/**
 * Reads Hugging Face's padded layout: rows of `ids` of one length and an `attention_mask` of 0/1
 * of the same shape. Each row's unmasked tokens form one sequence, at positions 0, 1, … in order:
 * the positions Hugging Face's `generate` derives (`cumsum(mask) − 1`), for left padding, right
 * padding or holes alike. Masked ids are never read, so any pad id works.
 *
 * @throws {InvalidInputError} ragged rows, a mask of another shape or with values other than 0
 *   and 1, or a row with no unmasked token.
 */
export function unpad(
  ids: ReadonlyArray<ArrayLike<number>>,
  attentionMask: ReadonlyArray<ArrayLike<number>>,
): PaddedBatch {
  if (ids.length === 0) throw new InvalidInputError('the batch is empty; give at least one row');
  const width = ids[0]!.length;
  if (attentionMask.length !== ids.length) {
    throw new InvalidInputError(
      `attentionMask has ${attentionMask.length} rows but ids has ${ids.length}; give one mask row per row of ids`,
    );
  }
  const sequences: number[][] = [];
  const columns: number[][] = [];
  for (let r = 0; r < ids.length; r++) {
    const row = ids[r]!;
    const mask = attentionMask[r]!;
    if (row.length !== width || mask.length !== width) {
      throw new InvalidInputError(
        `padded rows must all have ${width} columns (ids and attentionMask alike); row ${r} has ${row.length} ids and ${mask.length} mask values`,
      );
    }
    const sequence: number[] = [];
    const cols: number[] = [];
    for (let c = 0; c < width; c++) {
      const m = mask[c];
      if (m === 1) {
        sequence.push(row[c]!);
        cols.push(c);
      } else if (m !== 0) {
        throw new InvalidInputError(
          `attentionMask[${r}][${c}] is ${m}; a mask holds 1 for a token and 0 for padding`,
        );
      }
    }
    if (sequence.length === 0) {
      throw new InvalidInputError(
        `row ${r} of attentionMask is all 0; every row needs at least one token`,
      );
    }
    sequences.push(sequence);
    columns.push(cols);
  }
  return { sequences, columns, width };
}

/**
 * Tokens one forward step may hold on a device whose largest binding is `bindingBytes`: every
 * intermediate `[tokens, width]` f32 is one binding, the widest being the fused qkv (3·hidden),
 * the MLP's hidden (intermediate) or, when every token's logits are kept, the vocabulary.
 */
export function stepTokenLimit(
  config: Pick<NeoXConfig, 'hiddenSize' | 'intermediateSize' | 'vocabSize'>,
  bindingBytes: number,
  allLogits: boolean,
): number {
  const widest = Math.max(
    3 * config.hiddenSize,
    config.intermediateSize,
    allLogits ? config.vocabSize : 0,
  );
  return Math.max(1, Math.floor(bindingBytes / (4 * widest)));
}

/**
 * Splits a batch of sequences of `lengths` tokens into steps of at most `limit` tokens, in order:
 * each step gives every sequence a range `[start, end)` of its tokens (empty when it sits the step
 * out). Sequences are kept whole where they fit; one that does not is cut into consecutive chunks,
 * each continuing the last in the KV cache.
 */
export function planSteps(
  lengths: readonly number[],
  limit: number,
): Array<Array<[number, number]>> {
  const steps: Array<Array<[number, number]>> = [];
  let step = lengths.map(() => [0, 0] as [number, number]);
  let used = 0;
  for (const [i, length] of lengths.entries()) {
    let start = 0;
    while (start < length) {
      if (used === limit || (start === 0 && length <= limit && used + length > limit)) {
        steps.push(step);
        step = lengths.map(() => [0, 0] as [number, number]);
        used = 0;
      }
      const end = Math.min(length, start + limit - used);
      step[i] = [start, end];
      used += end - start;
      start = end;
    }
  }
  if (used > 0) steps.push(step);
  return steps;
}
