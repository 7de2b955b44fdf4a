/** A tensor to write: its dtype, shape and raw little-endian bytes. */
export interface TensorToWrite {
  dtype: string;
  shape: readonly number[];
  bytes: Uint8Array;
}

/** A safetensors file, as the reference library writes it (`metadata` as `__metadata__`). */
export function writeSafetensors(
  tensors: Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Uint8Array;

/** A safetensors file holding every tensor of `checkpoint`, as the reference library writes it. */
export function safetensorsOf(checkpoint: {
  tensors: ReadonlyMap<string, { dtype: string; shape: readonly number[] }>;
  read(name: string): Promise<Uint8Array>;
}): Promise<Uint8Array>;
