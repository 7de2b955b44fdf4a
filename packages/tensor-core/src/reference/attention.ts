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
