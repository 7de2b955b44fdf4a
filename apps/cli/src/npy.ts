import { writeFile } from 'node:fs/promises';

/**
 * Encodes a float32 array as a NumPy `.npy` file (format 1.0): the magic string, a header dict
 * padded so the data starts at a multiple of 64 bytes, then the little-endian values. Python
 * reads it with `numpy.load(path)`.
 */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length)
    throw new RangeError(`shape [${shape.join(', ')}] holds ${count} values, not ${data.length}`);
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // magic (6) + version (2) + header length (2) + header + '\n', padded to 64 bytes.
  const unpadded = 10 + header.length + 1;
  header += `${' '.repeat((64 - (unpadded % 64)) % 64)}\n`;
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  const values = new DataView(out.buffer, 10 + header.length);
  for (let i = 0; i < data.length; i++) values.setFloat32(i * 4, data[i]!, true);
  return out;
}

export async function writeNpy(
  path: string,
  data: Float32Array,
  shape: readonly number[],
): Promise<void> {
  try {
    await writeFile(path, encodeNpy(data, shape));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new Error(`cannot write ${path} (${code}); check that its folder exists and is writable`);
  }
}

/** Reads back what {@link encodeNpy} writes (float32, C order): for tests and round trips. */
export function decodeNpy(bytes: Uint8Array): { data: Float32Array; shape: number[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint16(8, true);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
  if (!header.includes("'descr': '<f4'")) throw new Error(`not a float32 .npy file: ${header}`);
  const shape = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  const start = 10 + headerLength;
  const data = new Float32Array((bytes.length - start) / 4);
  for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(start + i * 4, true);
  return { data, shape };
}
