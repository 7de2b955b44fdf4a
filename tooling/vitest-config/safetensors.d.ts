/** A safetensors file holding every tensor of `checkpoint`, as the reference library writes it. */
export function safetensorsOf(checkpoint: {
  tensors: ReadonlyMap<string, { dtype: string; shape: readonly number[] }>;
  read(name: string): Promise<Uint8Array>;
}): Promise<Uint8Array>;
