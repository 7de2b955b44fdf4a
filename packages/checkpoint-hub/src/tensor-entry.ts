/** Element types found in GPT-NeoX checkpoints (weights, and the legacy buffers that are skipped). */
export type TensorDtype =
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'F64'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U8'
  | 'BOOL';

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Readonly<Record<TensorDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/**
 * Where one tensor of a checkpoint lies: a contiguous, row-major run of bytes in its source file.
 * Both the safetensors and the PyTorch `.bin` readers describe tensors this way, so a reader can
 * fetch exactly the bytes it needs (a Range request, a file read) and hand them to a GPU upload.
 */
export interface TensorEntry {
  /** State-dict key, e.g. `gpt_neox.layers.0.attention.query_key_value.weight`. */
  name: string;
  dtype: TensorDtype;
  shape: number[];
  /** Absolute offset of the first byte in the source. */
  offset: number;
  /** `product(shape) × DTYPE_BYTES[dtype]`. */
  byteLength: number;
}

/**
 * Buffers that older GPT-NeoX checkpoints store but the model recomputes: a causal mask per layer
 * (4 MiB each in `.bin` step checkpoints), its fill value, and the rotary frequencies.
 */
export function isUnusedBuffer(name: string): boolean {
  return /(^|\.)attention\.(bias|masked_bias|rotary_emb\.inv_freq)$/.test(name);
}
