import type { PackedSegment } from '../packing.js';

/** Where each row of a reference op sits: its position and the first cache row of its sequence. */
export interface RowPlaces {
  /** Position of row t in its sequence. */
  readonly position: readonly number[];
  /** First cache row of row t's sequence (0 for one sequence). */
  readonly cacheStart: readonly number[];
}

/**
 * The places of `tokens` rows: one sequence from `positionOffset`, or the packed `segments` of
 * `packSequences` (segment s's rows follow segment s − 1's; row i of it at position
 * position_s + i, its sequence's rows starting at cacheStart_s).
 */
export function rowPlaces(
  op: string,
  tokens: number,
  positionOffset: number | undefined,
  segments: readonly PackedSegment[] | undefined,
): RowPlaces {
  const position: number[] = [];
  const cacheStart: number[] = [];
  if (!segments) {
    for (let t = 0; t < tokens; t++) {
      position.push((positionOffset ?? 0) + t);
      cacheStart.push(0);
    }
    return { position, cacheStart };
  }
  if (positionOffset !== undefined) {
    throw new RangeError(`${op}: give positionOffset or segments, not both`);
  }
  for (const s of segments) {
    for (let i = 0; i < s.length; i++) {
      position.push(s.position + i);
      cacheStart.push(s.cacheStart);
    }
  }
  if (position.length !== tokens) {
    throw new RangeError(`${op}: the segments hold ${position.length} tokens, not ${tokens}`);
  }
  return { position, cacheStart };
}
