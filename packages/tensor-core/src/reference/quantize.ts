import {
  QUANT_BLOCK,
  QUANT_BLOCK_WORDS,
  type QuantFormat,
  quantizeBlocks,
} from '../quant-blocks.js';

/** What {@link quantizeReference} computes: the stored form of a quantized matrix and its value. */
export interface QuantizedReference {
  /** q·d for every weight, f32 `[N, K]` row-major: what the GPU's matrix stands for. */
  readonly dequantized: Float32Array<ArrayBuffer>;
  /**
   * The packed values, row-major by block: 8 words per block for q8 (weight 4i + j of a block in
   * byte j of word i, two's complement), 4 for q4 (weight 8i + j in bits 4j…4j+3 of word i).
   */
  readonly values: Uint32Array<ArrayBuffer>;
  /** The f16 scale d of every block (bit patterns), row-major: `[N, K/32]`. */
  readonly scales: Uint16Array<ArrayBuffer>;
}

/**
 * CPU reference of `quantize`: the values and f16 scales a `QuantizedTensor` of `shape` `[N, K]`
 * holds for `data` (f32 values, or f16 bit patterns in a Uint16Array), and the matrix they stand
 * for. The GPU's `dequantize` returns `dequantized` bit for bit, and `matmul` with the quantized
 * matrix equals the f32 `matmulReference` with it.
 *
 * @example
 * ```ts
 * const { dequantized, scales } = quantizeReference(weights, [n, k], 'q8');
 * const expected = matmulReference(x, dequantized, m, n, k, bias);
 * ```
 */
export function quantizeReference(
  data: Float32Array | Uint16Array,
  shape: readonly [number, number],
  format: QuantFormat,
): QuantizedReference {
  const [n, k] = shape;
  if (k % QUANT_BLOCK !== 0 || data.length !== n * k) {
    throw new RangeError(
      `quantizeReference: ${data.length} values for [${shape}] (K must be a multiple of ${QUANT_BLOCK})`,
    );
  }
  const blocks = (n * k) / QUANT_BLOCK;
  const values = new Uint32Array(blocks * QUANT_BLOCK_WORDS[format]);
  const scales = new Uint16Array(blocks);
  const dequantized = new Float32Array(n * k);
  quantizeBlocks(data, n, k, format, values, scales, dequantized);
  return { dequantized, values, scales };
}
