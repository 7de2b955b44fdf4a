/**
 * A safetensors file of every tensor of a checkpoint, written as the reference library writes it
 * (8-byte little-endian header length, JSON header padded with spaces to a multiple of 8, the
 * tensors back to back), so a test can serve a generated checkpoint (e.g. neox-model's
 * `randomCheckpoint` at a real model's shapes) from a Hub stand-in.
 *
 * @param {{
 *   tensors: ReadonlyMap<string, { dtype: string; shape: readonly number[] }>;
 *   read(name: string): Promise<Uint8Array>;
 * }} checkpoint
 * @returns {Promise<Uint8Array>}
 */
export async function safetensorsOf(checkpoint) {
  /** @type {Record<string, unknown>} */
  const header = {};
  /** @type {Uint8Array[]} */
  const data = [];
  let offset = 0;
  for (const [name, { dtype, shape }] of checkpoint.tensors) {
    const bytes = await checkpoint.read(name);
    header[name] = { dtype, shape: [...shape], data_offsets: [offset, offset + bytes.length] };
    data.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const bytes of data) {
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}
