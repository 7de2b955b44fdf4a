import { type ByteSource, checkRange } from './byte-source.js';
import { CorruptCheckpointError, UnsupportedDtypeError } from './errors.js';
import { DTYPE_BYTES, type TensorDtype, type TensorEntry } from './tensor-entry.js';

/** The tensors of a safetensors file and its free-form `__metadata__`. */
export interface SafetensorsHeader {
  tensors: TensorEntry[];
  metadata: Record<string, string>;
}

/** The header may not exceed this (the reference implementation's own limit). */
const MAX_HEADER_BYTES = 100_000_000;

/**
 * Reads and validates the header of a safetensors file: an 8-byte little-endian length, then that
 * many bytes of JSON mapping each tensor to its dtype, shape and `[begin, end)` byte range in the
 * data that follows. Only the header is read; tensors are fetched later, each on its own.
 *
 * Validation follows the reference implementation, so a damaged download is caught before any
 * tensor is used: ranges inside the file, sorted ranges covering the data with no gap or
 * overlap, and `product(shape) × bytes(dtype)` equal to each range's length.
 *
 * @example
 * ```ts
 * const { tensors } = await readSafetensorsHeader(bytesSource(bytes), 'model.safetensors');
 * tensors[0]; // { name: 'embed_out.weight', dtype: 'F16', shape: [50304, 512], offset: …, byteLength: … }
 * ```
 * @throws {CorruptCheckpointError} truncated or malformed header.
 * @throws {UnsupportedDtypeError} a dtype this package does not know (e.g. F8_E4M3).
 */
export async function readSafetensorsHeader(
  source: ByteSource,
  file: string,
): Promise<SafetensorsHeader> {
  const corrupt = (problem: string) => new CorruptCheckpointError(file, problem);
  if (source.size < 8)
    throw corrupt(`${source.size} bytes is shorter than the 8-byte header length`);
  const prefix = await source.read(0, 8);
  const length = Number(new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true));
  if (length > MAX_HEADER_BYTES)
    throw corrupt(`header length ${length} exceeds ${MAX_HEADER_BYTES}`);
  if (8 + length > source.size)
    throw corrupt(`header of ${length} bytes runs past the end of the file`);
  const dataStart = 8 + length;
  const dataSize = source.size - dataStart;

  let json: unknown;
  try {
    json = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(await source.read(8, length)),
    );
  } catch (error) {
    throw corrupt(`header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw corrupt('header is not a JSON object');

  const metadata: Record<string, string> = {};
  const tensors: Array<TensorEntry & { begin: number; end: number }> = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null)
        throw corrupt('__metadata__ is not an object');
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw corrupt(`__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    tensors.push({ name, ...parseEntry(name, value, corrupt), offset: 0 });
  }

  // Sorted by position the ranges must tile the data exactly: a gap or an overlap means damage.
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const t of tensors) {
    if (t.begin !== expected) {
      throw corrupt(
        t.begin < expected
          ? `tensor ${t.name} overlaps the tensor before it`
          : `bytes [${expected}, ${t.begin}) before tensor ${t.name} belong to no tensor`,
      );
    }
    expected = t.end;
  }
  if (expected !== dataSize) {
    throw corrupt(
      expected > dataSize
        ? `tensors need ${expected} bytes of data but the file holds ${dataSize} (truncated download?)`
        : `${dataSize - expected} bytes at the end belong to no tensor`,
    );
  }
  return {
    metadata,
    tensors: tensors.map(({ name, dtype, shape, begin, byteLength }) => ({
      name,
      dtype,
      shape,
      offset: dataStart + begin,
      byteLength,
    })),
  };
}

function parseEntry(name: string, value: unknown, corrupt: (problem: string) => Error) {
  if (typeof value !== 'object' || value === null) throw corrupt(`entry ${name} is not an object`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') throw corrupt(`tensor ${name} has no dtype`);
  if (!(dtype in DTYPE_BYTES)) throw new UnsupportedDtypeError(name, dtype);
  const isIndex = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!Array.isArray(shape) || !shape.every(isIndex))
    throw corrupt(`tensor ${name} has a malformed shape`);
  const [begin, end] = Array.isArray(offsets) && offsets.length === 2 ? offsets : [];
  if (!isIndex(begin) || !isIndex(end) || begin > end)
    throw corrupt(`tensor ${name} has malformed data_offsets`);
  const elements = shape.reduce((n: number, d: number) => n * d, 1);
  const byteLength = elements * DTYPE_BYTES[dtype as TensorDtype];
  if (end - begin !== byteLength) {
    throw corrupt(
      `tensor ${name} is ${dtype}[${shape.join(', ')}] = ${byteLength} bytes but spans ${end - begin}`,
    );
  }
  return { dtype: dtype as TensorDtype, shape: shape as number[], begin, end, byteLength };
}

/** The bytes of one tensor, read from where the entry says they lie. */
export async function readTensorBytes(source: ByteSource, entry: TensorEntry): Promise<Uint8Array> {
  checkRange(entry.offset, entry.byteLength, source.size);
  return source.read(entry.offset, entry.byteLength);
}
