/**
 * A safetensors file, written as the reference library writes it: 8-byte little-endian header
 * length, JSON header padded with spaces to a multiple of 8, then the tensors back to back.
 *
 * @param {Record<string, { dtype: string; shape: readonly number[]; bytes: Uint8Array }>} tensors
 * @param {Record<string, string>} [metadata] written as `__metadata__`
 * @returns {Uint8Array}
 */
export function writeSafetensors(tensors, metadata) {
  /** @type {Record<string, unknown>} */
  const header = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const [name, { dtype, shape, bytes }] of Object.entries(tensors)) {
    header[name] = { dtype, shape: [...shape], data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const { bytes } of Object.values(tensors)) {
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}

/**
 * A safetensors file of every tensor of a checkpoint, so a test can serve a generated checkpoint
 * (e.g. neox-model's `randomCheckpoint` at a real model's shapes) from a Hub stand-in.
 *
 * @param {{
 *   tensors: ReadonlyMap<string, { dtype: string; shape: readonly number[] }>;
 *   read(name: string): Promise<Uint8Array>;
 * }} checkpoint
 * @returns {Promise<Uint8Array>}
 */
export async function safetensorsOf(checkpoint) {
  /** @type {Record<string, { dtype: string; shape: readonly number[]; bytes: Uint8Array }>} */
  const tensors = {};
  for (const [name, { dtype, shape }] of checkpoint.tensors) {
    tensors[name] = { dtype, shape, bytes: await checkpoint.read(name) };
  }
  return writeSafetensors(tensors);
}
