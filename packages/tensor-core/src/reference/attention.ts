import type { PackedSegment } from '../packing.js';
import { rowPlaces } from './packing.js';
import { rotaryReference } from './rotary.js';

/** Sizes and settings of {@link splitQkvRotaryReference} and {@link attentionReference}. */
export interface AttentionReferenceSizes {
  tokens: number;
  heads: number;
  headDim: number;
  maxPositions: number;
  positionOffset?: number;
  /**
   * Several sequences packed into the rows, as for `packSequences` (instead of positionOffset):
   * row t at position p of a sequence starting at cache row c has cache row c + p and sees keys
   * c … c + p.
   */
  segments?: readonly PackedSegment[];
}

/**
 * CPU reference of causal attention over caches [heads, maxPositions, headDim]: for query row t
 * at position p = positionOffset + t, out[t, h·D + d] = Σ_{j≤p} softmax_j(q·k_j/√D)·v_j[d], in
 * double precision, rounded to f32. Also returns the probabilities [heads, tokens,
 * positionOffset + tokens] (0 where j > p). With `segments`, key j of row t is cache row
 * cacheStart + j of its own sequence, and probs are [heads, tokens, max_t p_t + 1].
 *
 * @example
 * ```ts
 * // one head, D = 1, two cached keys with equal scores: the output averages the values
 * attentionReference([1], [0, 0], [2, 4], { tokens: 1, heads: 1, headDim: 1, maxPositions: 2, positionOffset: 1 });
 * // { output: [3], probs: [0.5, 0.5] }
 * ```
 */
export function attentionReference(
  q: ArrayLike<number>,
  kCache: ArrayLike<number>,
  vCache: ArrayLike<number>,
  sizes: AttentionReferenceSizes,
): { output: Float32Array<ArrayBuffer>; probs: Float32Array<ArrayBuffer> } {
  const { tokens, heads, headDim: D, maxPositions } = sizes;
  const cacheSize = heads * maxPositions * D;
  const places = rowPlaces('attentionReference', tokens, sizes.positionOffset, sizes.segments);
  if (
    q.length !== tokens * heads * D ||
    kCache.length !== cacheSize ||
    vCache.length !== cacheSize ||
    places.position.some((p, t) => places.cacheStart[t]! + p >= maxPositions)
  ) {
    throw new RangeError('attentionReference: sizes do not match');
  }
  const keysTotal = sizes.segments
    ? places.position.reduce((max, p) => Math.max(max, p + 1), 0)
    : (sizes.positionOffset ?? 0) + tokens;
  const output = new Float32Array(tokens * heads * D);
  const probs = new Float32Array(heads * tokens * keysTotal);
  const scale = 1 / Math.sqrt(D);
  const scores = new Float64Array(keysTotal);
  for (let t = 0; t < tokens; t++) {
    const keys = places.position[t]! + 1;
    const first = places.cacheStart[t]!; // cache row of key 0
    for (let h = 0; h < heads; h++) {
      const qRow = (t * heads + h) * D;
      let max = -Infinity;
      for (let j = 0; j < keys; j++) {
        const kRow = (h * maxPositions + first + j) * D;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[qRow + d]! * kCache[kRow + d]!;
        scores[j] = dot * scale;
        max = Math.max(max, scores[j]!);
      }
      let sum = 0;
      for (let j = 0; j < keys; j++) {
        scores[j] = Math.exp(scores[j]! - max);
        sum += scores[j]!;
      }
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let j = 0; j < keys; j++) {
          acc += scores[j]! * vCache[(h * maxPositions + first + j) * D + d]!;
        }
        output[qRow + d] = acc / sum;
      }
      const pRow = (h * tokens + t) * keysTotal;
      for (let j = 0; j < keys; j++) probs[pRow + j] = scores[j]! / sum;
    }
  }
  return { output, probs };
}

/**
 * CPU reference of the fused QKV step: splits qkv [tokens, heads, 3, headDim], applies
 * {@link rotaryReference} to q and k, and writes k, v into copies of the caches at rows
 * positionOffset + t (with `segments`: cacheStart + position of the row's sequence). Returns the
 * rotated q [tokens, heads, headDim] and the updated caches.
 */
export function splitQkvRotaryReference(
  qkv: ArrayLike<number>,
  kCache: ArrayLike<number>,
  vCache: ArrayLike<number>,
  options: AttentionReferenceSizes & { rotaryDims: number; base?: number },
): {
  q: Float32Array<ArrayBuffer>;
  kCache: Float32Array<ArrayBuffer>;
  vCache: Float32Array<ArrayBuffer>;
} {
  const { tokens, heads, headDim: D, maxPositions } = options;
  const places = rowPlaces(
    'splitQkvRotaryReference',
    tokens,
    options.positionOffset,
    options.segments,
  );
  const row = (t: number) => places.cacheStart[t]! + places.position[t]!; // cache row of token t
  if (places.position.some((_, t) => row(t) >= maxPositions)) {
    throw new RangeError('splitQkvRotaryReference: rows overrun the caches');
  }
  const qRaw = new Float32Array(tokens * heads * D);
  const kRaw = new Float32Array(tokens * heads * D);
  const k = Float32Array.from(kCache);
  const v = Float32Array.from(vCache);
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const src = (t * heads + h) * 3 * D;
      const dst = (t * heads + h) * D;
      for (let d = 0; d < D; d++) {
        qRaw[dst + d] = qkv[src + d]!;
        kRaw[dst + d] = qkv[src + D + d]!;
        v[(h * maxPositions + row(t)) * D + d] = qkv[src + 2 * D + d]!;
      }
    }
  }
  const q = rotaryReference(qRaw, options);
  const kRot = rotaryReference(kRaw, options);
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      for (let d = 0; d < D; d++) {
        k[(h * maxPositions + row(t)) * D + d] = kRot[(t * heads + h) * D + d]!;
      }
    }
  }
  return { q, kCache: k, vCache: v };
}

/** Reference of `splitQkv`: q, k, v [tokens, heads, headDim] from per-head q|k|v rows. */
export function splitQkvReference(
  qkv: ArrayLike<number>,
  sizes: { tokens: number; heads: number; headDim: number },
): { q: Float32Array<ArrayBuffer>; k: Float32Array<ArrayBuffer>; v: Float32Array<ArrayBuffer> } {
  const { tokens, heads, headDim: D } = sizes;
  const [q, k, v] = [0, 1, 2].map(() => new Float32Array(tokens * heads * D)) as [
    Float32Array<ArrayBuffer>,
    Float32Array<ArrayBuffer>,
    Float32Array<ArrayBuffer>,
  ];
  for (let th = 0; th < tokens * heads; th++) {
    for (let d = 0; d < D; d++) {
      q[th * D + d] = qkv[th * 3 * D + d]!;
      k[th * D + d] = qkv[th * 3 * D + D + d]!;
      v[th * D + d] = qkv[th * 3 * D + 2 * D + d]!;
    }
  }
  return { q, k, v };
}

/** Sizes and settings of {@link causalSoftmaxReference}: those of attention without the cache. */
export type CausalSoftmaxReferenceSizes = Pick<
  AttentionReferenceSizes,
  'tokens' | 'heads' | 'positionOffset' | 'segments'
>;

/** Places of the rows and S, the row length of scores and pattern (max_t p_t + 1 when packed). */
function partRows(op: string, sizes: CausalSoftmaxReferenceSizes) {
  const places = rowPlaces(op, sizes.tokens, sizes.positionOffset, sizes.segments);
  const keysTotal = sizes.segments
    ? places.position.reduce((max, p) => Math.max(max, p + 1), 0)
    : (sizes.positionOffset ?? 0) + sizes.tokens;
  return { ...places, keysTotal };
}

/** Whether row (cacheStart, position) pairs stay inside caches of `maxPositions` rows. */
function fitsCache(places: ReturnType<typeof partRows>, maxPositions: number): boolean {
  return places.position.every((p, t) => places.cacheStart[t]! + p < maxPositions);
}

/**
 * CPU reference of `attentionScores`: scores [heads, tokens, S] (S = positionOffset + tokens, or
 * max_t p_t + 1 with `segments`) with entry (h, t, j) = q[t,h,·]·k_j/√D for j ≤ p, in double
 * precision rounded to f32, and −Infinity for j > p. Key j of row t is cache row cacheStart + j
 * of its own sequence (cacheStart 0 without segments).
 *
 * @example
 * ```ts
 * attentionScoresReference([2, 4], [1, 3], { tokens: 2, heads: 1, headDim: 1, maxPositions: 2 });
 * // [2, -Infinity, 4, 12]
 * ```
 */
export function attentionScoresReference(
  q: ArrayLike<number>,
  kCache: ArrayLike<number>,
  sizes: AttentionReferenceSizes,
): Float32Array<ArrayBuffer> {
  const { tokens, heads, headDim: D, maxPositions } = sizes;
  const rows = partRows('attentionScoresReference', sizes);
  if (
    q.length !== tokens * heads * D ||
    kCache.length !== heads * maxPositions * D ||
    !fitsCache(rows, maxPositions)
  ) {
    throw new RangeError('attentionScoresReference: sizes do not match');
  }
  const S = rows.keysTotal;
  const scores = new Float32Array(heads * tokens * S).fill(-Infinity);
  const scale = 1 / Math.sqrt(D);
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < tokens; t++) {
      const qRow = (t * heads + h) * D;
      for (let j = 0; j <= rows.position[t]!; j++) {
        const kRow = (h * maxPositions + rows.cacheStart[t]! + j) * D;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[qRow + d]! * kCache[kRow + d]!;
        scores[(h * tokens + t) * S + j] = dot * scale;
      }
    }
  }
  return scores;
}

/**
 * CPU reference of `causalSoftmax`: for each row (h, t) of scores [heads, tokens, S], softmax
 * over j ≤ p in double precision (max subtracted), rounded to f32, and 0 for j > p; entries j > p
 * are not read. −Infinity gets weight 0; a row whose entries j ≤ p are all −Infinity, or include
 * NaN or +Infinity, is NaN at j ≤ p (0 beyond), like the kernel.
 *
 * @example
 * ```ts
 * causalSoftmaxReference([0, 99, Math.log(3), 0], { tokens: 2, heads: 1 });
 * // [1, 0, 0.75, 0.25]
 * ```
 */
export function causalSoftmaxReference(
  scores: ArrayLike<number>,
  sizes: CausalSoftmaxReferenceSizes,
): Float32Array<ArrayBuffer> {
  const { tokens, heads } = sizes;
  const rows = partRows('causalSoftmaxReference', sizes);
  const S = rows.keysTotal;
  if (scores.length !== heads * tokens * S) {
    throw new RangeError('causalSoftmaxReference: sizes do not match');
  }
  const pattern = new Float32Array(heads * tokens * S);
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < tokens; t++) {
      const base = (h * tokens + t) * S;
      const keys = rows.position[t]! + 1;
      let max = -Infinity;
      let bad = false;
      for (let j = 0; j < keys; j++) {
        const s = scores[base + j]!;
        if (Number.isFinite(s)) max = Math.max(max, s);
        else if (s !== -Infinity) bad = true; // NaN or +Infinity
      }
      if (bad || max === -Infinity) {
        pattern.fill(Number.NaN, base, base + keys);
        continue;
      }
      let sum = 0;
      for (let j = 0; j < keys; j++) sum += Math.exp(scores[base + j]! - max);
      for (let j = 0; j < keys; j++) pattern[base + j] = Math.exp(scores[base + j]! - max) / sum;
    }
  }
  return pattern;
}

/**
 * CPU reference of `applyPattern`: out[t, h·D + d] = Σ_{j ≤ p} pattern[h,t,j]·v_j[d] over
 * pattern [heads, tokens, S] and vCache [heads, maxPositions, headDim] (v_j = cache row
 * cacheStart + j), in double precision rounded to f32; entries j > p are not read and the
 * pattern is not renormalised.
 *
 * @example
 * ```ts
 * // row 1 takes 0.25·v0 + 0.75·v1
 * applyPatternReference([1, 0, 0.25, 0.75], [2, 4], { tokens: 2, heads: 1, headDim: 1, maxPositions: 2 });
 * // [2, 3.5]
 * ```
 */
export function applyPatternReference(
  pattern: ArrayLike<number>,
  vCache: ArrayLike<number>,
  sizes: AttentionReferenceSizes,
): Float32Array<ArrayBuffer> {
  const { tokens, heads, headDim: D, maxPositions } = sizes;
  const rows = partRows('applyPatternReference', sizes);
  const S = rows.keysTotal;
  if (
    pattern.length !== heads * tokens * S ||
    vCache.length !== heads * maxPositions * D ||
    !fitsCache(rows, maxPositions)
  ) {
    throw new RangeError('applyPatternReference: sizes do not match');
  }
  const output = new Float32Array(tokens * heads * D);
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const base = (h * tokens + t) * S;
      const first = h * maxPositions + rows.cacheStart[t]!; // cache row of key 0
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let j = 0; j <= rows.position[t]!; j++) {
          acc += pattern[base + j]! * vCache[(first + j) * D + d]!;
        }
        output[(t * heads + h) * D + d] = acc;
      }
    }
  }
  return output;
}
