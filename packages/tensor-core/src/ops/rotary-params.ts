import { ShapeError } from '../errors.js';
import { rotaryParamsBytes } from '../kernels/rotary.js';
import type { SequencePacking } from '../packing.js';

/** Rotary position embedding settings (GPT-NeoX: `rotary_pct`·head_dim dims, base 10000). */
export interface RotaryOptions {
  /** How many leading dims of each head rotate (even, ≤ head dim, ≤ 256). */
  rotaryDims: number;
  /** `rotary_emb_base`; default 10000. */
  base?: number;
  /** Absolute position of the first row (the number of tokens already in the KV cache). */
  positionOffset?: number;
  /**
   * Several sequences packed into the rows (instead of `positionOffset`): each row takes its
   * position from its sequence's segment (see `packSequences`). The rows must number
   * `packing.tokens`.
   */
  packing?: SequencePacking;
}

/**
 * inv_freq_i = base^(−2i/rotaryDims) for i < rotaryDims/2, computed in double precision and
 * rounded once to f32 (PyTorch rounds `base ** (arange/dim)` and the reciprocal separately, so
 * its table may differ from this one by an ulp).
 */
export function rotaryInverseFrequencies(rotaryDims: number, base = 10000): Float32Array {
  const half = rotaryDims / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = base ** ((-2 * i) / rotaryDims);
  return invFreq;
}

/** Validates `options` for heads of `headDim` and packs the rotary kernels' uniform block. */
export function rotaryParams(
  op: string,
  options: RotaryOptions,
  sizes: { tokens: number; heads: number; headDim: number; maxPositions?: number },
): Uint8Array {
  const { rotaryDims, base = 10000, positionOffset = 0 } = options;
  if (
    !Number.isInteger(rotaryDims) ||
    rotaryDims < 0 ||
    rotaryDims % 2 !== 0 ||
    rotaryDims > sizes.headDim ||
    rotaryDims > 256
  ) {
    throw new ShapeError(
      `${op}: rotaryDims must be an even integer ≤ head dim ${sizes.headDim} and ≤ 256, got ${rotaryDims}`,
    );
  }
  if (!(base > 0)) throw new ShapeError(`${op}: rotary base must be positive, got ${base}`);
  if (!Number.isInteger(positionOffset) || positionOffset < 0 || positionOffset >= 2 ** 24) {
    throw new ShapeError(
      `${op}: positionOffset must be an integer in [0, 2^24) (exact in f32), got ${positionOffset}`,
    );
  }
  const bytes = new ArrayBuffer(rotaryParamsBytes);
  new Uint32Array(bytes, 0, 6).set([
    sizes.tokens,
    sizes.heads,
    sizes.headDim,
    rotaryDims,
    positionOffset,
    sizes.maxPositions ?? 0,
  ]);
  new Float32Array(bytes, 32).set(rotaryInverseFrequencies(rotaryDims, base));
  return new Uint8Array(bytes);
}
