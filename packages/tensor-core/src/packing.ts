// Several sequences packed into one activation: the segments that say where each sequence's
// tokens sit (rows, positions, cache rows), validated once on the CPU and uploaded once as the
// table that the packing variants of the attention-side kernels read per row.
import type { Device } from './device.js';
import { ShapeError, TensorCoreError, TensorDisposedError } from './errors.js';
import type { Tensor } from './tensor.js';

/** One sequence of a packed batch (see {@link packSequences}). */
export interface PackedSegment {
  /** First cache row of this sequence's range in the KV caches. */
  cacheStart: number;
  /** Position of this segment's first token in its sequence (= tokens of this sequence already cached). */
  position: number;
  /** Tokens of this sequence in the packed rows (may be 0: a sequence that does not advance this step). */
  length: number;
}

// Rotary angles are f32(position)·inv_freq: positions past 2^24 are not exact in f32.
const POSITION_LIMIT = 2 ** 24;
// The table holds u32 cache rows.
const CACHE_ROW_LIMIT = 2 ** 32;

// Set once, by SequencePacking's static block: the only ways to make one and to reach its table.
let construct: (
  device: Device,
  segments: readonly PackedSegment[],
  table: Tensor<'u32'>,
) => SequencePacking;
let tableOf: (packing: SequencePacking) => Tensor<'u32'>;

/**
 * Where the tokens of several sequences sit in one packed activation and in the KV caches; made
 * by {@link packSequences}, passed as `packing` to `splitQkvRotary`, `rotary`, `writeKvCache`,
 * `attention` and `attentionWithProbs`. Holds a small GPU table (one (cacheStart, position) pair
 * per packed row); {@link SequencePacking.dispose} it when the step's kernels are recorded.
 */
export class SequencePacking {
  readonly device: Device;
  /** The segments, in packed-row order (frozen copies). */
  readonly segments: readonly PackedSegment[];
  /** Packed rows: Σ length. */
  readonly tokens: number;
  /**
   * Keys of the longest query: max of position + length over the segments with length > 0 (0 if
   * none). The row length of `attentionWithProbs`'s probabilities.
   */
  readonly maxKeys: number;
  /** Cache rows the batch touches: max of cacheStart + position + length. Caches need at least this many positions. */
  readonly cacheRows: number;
  // u32 [tokens, 2]: (cacheStart, position) of each packed row.
  readonly #table: Tensor<'u32'>;

  static {
    construct = (device, segments, table) => new SequencePacking(device, segments, table);
    tableOf = (packing) => packing.#table;
  }

  // Private, so that every packing went through packSequences' checks.
  private constructor(device: Device, segments: readonly PackedSegment[], table: Tensor<'u32'>) {
    this.device = device;
    this.segments = Object.freeze(
      segments.map(({ cacheStart, position, length }) =>
        Object.freeze({ cacheStart, position, length }),
      ),
    );
    let tokens = 0;
    let maxKeys = 0;
    let cacheRows = 0;
    for (const { cacheStart, position, length } of segments) {
      tokens += length;
      if (length > 0) maxKeys = Math.max(maxKeys, position + length);
      cacheRows = Math.max(cacheRows, cacheStart + position + length);
    }
    this.tokens = tokens;
    this.maxKeys = maxKeys;
    this.cacheRows = cacheRows;
    this.#table = table;
  }

  /** True after {@link SequencePacking.dispose}. */
  get disposed(): boolean {
    return this.#table.disposed;
  }

  /**
   * Returns the table's GPU memory to the device's pool; kernels recorded before still read it.
   * Idempotent; ops given a disposed packing throw {@link TensorDisposedError}.
   */
  dispose(): void {
    this.#table.dispose();
  }

  toString(): string {
    return `SequencePacking(${this.segments.length} segments, ${this.tokens} tokens)`;
  }
}

/**
 * Packs several sequences into one batch: segment s's tokens are the packed rows
 * [Σ_{r<s} length_r, Σ_{r≤s} length_r). Token i of segment s is at position p = position + i of
 * its sequence; its k and v go to cache row cacheStart + p, and its query attends to cache rows
 * cacheStart … cacheStart + p only (causal within its own sequence, never another's).
 *
 * @throws {ShapeError} no segments; a field that is not a non-negative integer; a position at or
 *   past 2^24 (rotary angles are exact in f32 only below it); or two segments whose cache ranges
 *   [cacheStart, cacheStart + position + length) overlap (one would read or overwrite the other's
 *   keys).
 *
 * @example
 * ```ts
 * // Sequence A has 7 tokens cached at rows 0…6 and adds 3; B (rows 512…) starts with a prompt of 5.
 * const packing = packSequences(device, [
 *   { cacheStart: 0, position: 7, length: 3 },
 *   { cacheStart: 512, position: 0, length: 5 },
 * ]);
 * const q = splitQkvRotary(qkv, kCache, vCache, { heads, rotaryDims, packing }); // qkv: 8 rows
 * const context = attention(q, kCache, vCache, { packing });
 * packing.dispose();
 * ```
 */
export function packSequences(device: Device, segments: readonly PackedSegment[]): SequencePacking {
  if (segments.length === 0) {
    throw new ShapeError('packSequences: give at least one segment');
  }
  const fields = ['cacheStart', 'position', 'length'] as const;
  segments.forEach((segment, s) => {
    for (const field of fields) {
      const value = segment[field];
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new ShapeError(
          `packSequences: segment ${s} has ${field} ${value}; cacheStart, position and length must be non-negative integers`,
        );
      }
    }
    const { cacheStart, position, length } = segment;
    if (position + length > POSITION_LIMIT) {
      throw new ShapeError(
        `packSequences: segment ${s} reaches position ${position + length - 1}; positions must stay below 2^24 (exact in f32, as rotary angles need)`,
      );
    }
    if (cacheStart + position + length > CACHE_ROW_LIMIT) {
      throw new ShapeError(
        `packSequences: segment ${s} reaches cache row ${cacheStart + position + length - 1}; cache rows must stay below 2^32`,
      );
    }
  });
  checkDisjoint(segments);
  const tokens = segments.reduce((sum, s) => sum + s.length, 0);
  const table = new Uint32Array(2 * tokens);
  let row = 0;
  for (const { cacheStart, position, length } of segments) {
    for (let i = 0; i < length; i++, row++) {
      table[2 * row] = cacheStart;
      table[2 * row + 1] = position + i;
    }
  }
  return construct(device, segments, device.tensor(table, [tokens, 2]));
}

/** Throws unless the non-empty cache ranges [cacheStart, cacheStart + position + length) are disjoint. */
function checkDisjoint(segments: readonly PackedSegment[]): void {
  const ranges = segments
    .map((s, index) => ({ index, start: s.cacheStart, end: s.cacheStart + s.position + s.length }))
    .filter((r) => r.end > r.start)
    .sort((a, b) => a.start - b.start);
  for (let i = 1; i < ranges.length; i++) {
    const [a, b] = [ranges[i - 1]!, ranges[i]!];
    if (b.start < a.end) {
      const [first, second] = a.index < b.index ? [a, b] : [b, a];
      throw new ShapeError(
        `packSequences: segments ${first.index} (cache rows ${first.start}…${first.end - 1}) and ` +
          `${second.index} (cache rows ${second.start}…${second.end - 1}) overlap; each sequence ` +
          'must own its cache rows [cacheStart, cacheStart + position + length), or it would read ' +
          "or overwrite the other's keys",
      );
    }
  }
}

/**
 * What an op needs to place its rows: the table of a packing, or one sequence's first position.
 *
 * @internal
 */
export interface Placement {
  /** u32 [tokens, 2] table of the packing variant's kernels, or undefined for one sequence. */
  readonly table: Tensor<'u32'> | undefined;
  /** Position of row 0 when there is no packing (0 with one). */
  readonly positionOffset: number;
}

/**
 * Validates an op's `packing` against its rows (and cache) and returns the kernel table, or, for
 * one sequence, its `positionOffset` (which the op validates). For the ops only; not exported by the package.
 *
 * @internal
 */
export function placeRows(
  op: string,
  options: { packing?: SequencePacking | undefined; positionOffset?: number | undefined },
  rows: number,
  device: Device,
  maxPositions?: number,
): Placement {
  const { packing, positionOffset } = options;
  // One sequence: each op checks positionOffset as it always has.
  if (packing === undefined) return { table: undefined, positionOffset: positionOffset ?? 0 };
  if (positionOffset !== undefined) {
    throw new ShapeError(
      `${op}: got both positionOffset (${positionOffset}) and packing; a packed batch takes each ` +
        "sequence's position from its segment, so pass only packing",
    );
  }
  if (packing.disposed) throw new TensorDisposedError(packing.toString());
  if (packing.device !== device) {
    throw new TensorCoreError(
      `${op}: the packing lives on another device than the tensors; pack the sequences on the tensors' device`,
    );
  }
  if (rows !== packing.tokens) {
    throw new ShapeError(
      `${op}: ${rows} rows, but ${packing.toString()} places ${packing.tokens} (Σ segment lengths); the activation must hold exactly the packed tokens`,
    );
  }
  if (maxPositions !== undefined && packing.cacheRows > maxPositions) {
    throw new ShapeError(
      `${op}: the packing needs caches of at least ${packing.cacheRows} positions (its largest ` +
        `cacheStart + position + length), but they hold ${maxPositions}; allocate larger caches or ` +
        'place the sequences at lower cache rows',
    );
  }
  return { table: tableOf(packing), positionOffset: 0 };
}
