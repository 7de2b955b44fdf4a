import { type AsyncBuffer, parquetReadObjects } from 'hyparquet';
import { type ByteSource, bytesSource } from './byte-source.js';
import {
  CheckpointHubError,
  InvalidDatasetFileError,
  NotCachedError,
  UnsafeDatasetIntegerError,
} from './errors.js';
import { listParquetFiles } from './parquet-files.js';
import type { CheckpointStore } from './remote-store.js';

/**
 * A value of a dataset row, as plain JavaScript: strings, numbers (Parquet's `INT64` too, when it
 * fits), booleans, `null`, lists as arrays, structs as objects; `Uint8Array` for binary columns
 * and `Date` for timestamps.
 */
export type DatasetValue =
  | string
  | number
  | boolean
  | null
  | Uint8Array
  | Date
  | DatasetValue[]
  | { [field: string]: DatasetValue };

/** One row of a dataset split: its columns by name (`{ goal, sol1, sol2, label }` for piqa). */
export type DatasetRow = { [column: string]: DatasetValue };

/** Options of {@link readParquetRows}. */
export interface ReadParquetRowsOptions {
  /** What the file is called in errors. Default `'Parquet file'`. */
  name?: string;
  /** Read at most this many rows (the first ones). Default: all. */
  limit?: number;
  signal?: AbortSignal;
}

/** Options of {@link readDatasetRows}. */
export interface ReadDatasetRowsOptions {
  /** Default `refs/convert/parquet`; a commit id of that branch pins the conversion. */
  revision?: string;
  /** Read at most this many rows (the split's first ones), opening no more shards than needed. */
  limit?: number;
  signal?: AbortSignal;
}

/** Options of {@link readJsonlRows}. */
export interface ReadJsonlRowsOptions {
  /** What the file is called in errors. Default `'JSON Lines text'`. */
  name?: string;
}

/**
 * The rows of a Parquet file, as plain objects in file order: a shard of a dataset split as the
 * Hub converts them (`refs/convert/parquet`), from bytes in memory or any {@link ByteSource}
 * (a cached file, a `Blob`, a `RemoteStore` reading ranges). Uncompressed and Snappy files, the
 * Hub's, are read; `INT64` values become numbers.
 *
 * @example
 * ```ts
 * const rows = await readParquetRows(new Uint8Array(await file.arrayBuffer()));
 * console.log(rows[0]); // { goal: '…', sol1: '…', sol2: '…', label: 0 }
 * ```
 *
 * @throws {InvalidDatasetFileError} the bytes are not a Parquet file this reader can read
 *   (truncated, corrupt, or compressed with a codec other than Snappy).
 * @throws {UnsafeDatasetIntegerError} an `INT64` value a number cannot hold exactly.
 * @throws {RangeError} `limit` is not a non-negative integer.
 */
export async function readParquetRows(
  bytes: Uint8Array | ByteSource,
  options: ReadParquetRowsOptions = {},
): Promise<DatasetRow[]> {
  const name = options.name ?? 'Parquet file';
  const limit = checkLimit(options.limit);
  const { signal } = options;
  signal?.throwIfAborted();
  const source = isByteSource(bytes) ? bytes : bytesSource(bytes);
  if (limit === 0) return [];
  const file: AsyncBuffer = {
    byteLength: source.size,
    slice: async (start, end = source.size) => {
      signal?.throwIfAborted();
      const from = Math.max(0, start < 0 ? source.size + start : start);
      const to = Math.min(source.size, end < 0 ? source.size + end : end);
      const read = await source.read(from, Math.max(0, to - from));
      const copy = new Uint8Array(read.length);
      copy.set(read);
      return copy.buffer;
    },
  };
  let rows: Record<string, unknown>[];
  try {
    rows = await parquetReadObjects({
      file,
      ...(Number.isFinite(limit) ? { rowStart: 0, rowEnd: limit } : {}),
    });
  } catch (error) {
    // The source's own failures (network, offline, abort) pass through; the rest is the file.
    if (error instanceof CheckpointHubError || signal?.aborted) throw error;
    if (error instanceof Error && error.name === 'AbortError') throw error;
    throw new InvalidDatasetFileError(name, error instanceof Error ? error.message : String(error));
  }
  const out: DatasetRow[] = [];
  for (let row = 0; row < rows.length && row < limit; row++) {
    const fields: DatasetRow = {};
    for (const [column, value] of Object.entries(rows[row]!)) {
      fields[column] = plain(value, { name, row, field: column });
    }
    out.push(fields);
  }
  return out;
}

/**
 * The rows of one split of a dataset config, as lm-evaluation-harness reads its documents: the
 * split's Parquet shards on the Hub's `refs/convert/parquet` branch (listed with
 * {@link listParquetFiles}), each opened through `store`, so that a cache downloads and checks
 * them once and serves them offline afterwards, read in shard order. With `limit`, reading stops
 * at that many rows and the later shards are not opened. Where the Hub converted only part of a
 * large split (`partial-{split}`), the rows are that part.
 *
 * Offline, the split is what the cache holds: read it whole once online (without `limit`) before
 * relying on it offline. A shard missing between cached ones is a `NotCachedError`; a missing
 * last shard cannot be told from the names, and its rows are then absent.
 *
 * @example
 * ```ts
 * const cache = new NodeHubCache();
 * const docs = await readDatasetRows(cache, 'ybisk/piqa', 'plain_text', 'validation', { limit: 2 });
 * console.log(docs[0]); // { goal: '…', sol1: '…', sol2: '…', label: 0 }
 * ```
 *
 * @throws {ParquetSplitNotFoundError} the conversion has no such config or split (it names those
 *   it has).
 * @throws {RevisionNotFoundError} the dataset has no Parquet conversion.
 * @throws {NotCachedError} offline, and the split (or a shard of it that the names show) is not
 *   cached.
 * @throws {IntegrityError} a downloaded shard does not match the Hub's checksum.
 * @throws {InvalidDatasetFileError} a shard is not a Parquet file this reader can read.
 * @throws {UnsafeDatasetIntegerError} an `INT64` value a number cannot hold exactly.
 */
export async function readDatasetRows(
  store: Pick<CheckpointStore, 'resolve' | 'files' | 'offline' | 'open'>,
  dataset: string,
  config: string,
  split: string,
  options: ReadDatasetRowsOptions = {},
): Promise<DatasetRow[]> {
  const limit = checkLimit(options.limit);
  const { signal } = options;
  const listed = await listParquetFiles(store, dataset, config, split, {
    ...(options.revision !== undefined ? { revision: options.revision } : {}),
    ...(signal ? { signal } : {}),
  });
  if (store.offline) {
    // Offline, the listing is the cached shards: one missing before the last cached one shows.
    const gap = missingShard(listed.files.map((f) => f.path));
    if (gap) throw new NotCachedError(dataset, listed.revision, gap, 'dataset');
  }
  const rows: DatasetRow[] = [];
  for (const shard of listed.files) {
    if (rows.length >= limit) break;
    signal?.throwIfAborted();
    const source = await store.open(dataset, listed.commit, shard.path, {
      repoType: 'dataset',
      ...(signal ? { signal } : {}),
    });
    try {
      const read = await readParquetRows(source, {
        name: `${shard.path} of dataset ${dataset}@${listed.commit}`,
        limit: limit - rows.length,
        ...(signal ? { signal } : {}),
      });
      // Not push(...read): a shard's rows may be more than a call's arguments can be.
      for (const row of read) rows.push(row);
    } finally {
      await source.close?.();
    }
  }
  return rows;
}

/**
 * The rows of a JSON Lines file (`.jsonl`, as some tasks ship their documents): one JSON object
 * per line, blank lines skipped.
 *
 * @example
 * ```ts
 * const rows = readJsonlRows('{"text": "a"}\n\n{"text": "b"}\n');
 * console.log(rows); // [ { text: 'a' }, { text: 'b' } ]
 * ```
 *
 * @throws {InvalidDatasetFileError} a line is not JSON, or not an object; `line` (1-based) names it.
 */
export function readJsonlRows(text: string, options: ReadJsonlRowsOptions = {}): DatasetRow[] {
  const name = options.name ?? 'JSON Lines text';
  const rows: DatasetRow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new InvalidDatasetFileError(
        name,
        error instanceof Error ? error.message : String(error),
        i + 1,
      );
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
      throw new InvalidDatasetFileError(name, `it holds ${kind}`, i + 1);
    }
    rows.push(value as DatasetRow);
  }
  return rows;
}

/**
 * The first shard missing from a split's listing, where the names tell: `0000.parquet`,
 * `0002.parquet` lacks `0001.parquet`; `…-00000-of-00002.parquet` alone lacks `…-00001-of-00002`.
 * (A missing last shard of today's layout cannot be told from the names.)
 */
function missingShard(paths: readonly string[]): string | undefined {
  const have = new Set(paths);
  for (const path of paths) {
    const numbered = /^(.*\/)(\d{4})\.parquet$/.exec(path);
    if (numbered) {
      for (let i = 0; i < Number(numbered[2]); i++) {
        const want = `${numbered[1]}${String(i).padStart(4, '0')}.parquet`;
        if (!have.has(want)) return want;
      }
    }
    const ofN = /^(.*-)(\d+)-of-(\d+)\.parquet$/.exec(path);
    if (ofN) {
      const width = ofN[2]!.length;
      for (let i = 0; i < Number(ofN[3]); i++) {
        const want = `${ofN[1]}${String(i).padStart(width, '0')}-of-${ofN[3]}.parquet`;
        if (!have.has(want)) return want;
      }
    }
  }
  return undefined;
}

function isByteSource(bytes: Uint8Array | ByteSource): bytes is ByteSource {
  return typeof (bytes as Partial<ByteSource>).read === 'function';
}

function checkLimit(limit: number | undefined): number {
  if (limit === undefined) return Number.POSITIVE_INFINITY;
  if (limit === Number.POSITIVE_INFINITY || (Number.isSafeInteger(limit) && limit >= 0)) {
    return limit;
  }
  throw new RangeError(`limit must be a non-negative integer, not ${limit}`);
}

interface Where {
  name: string;
  row: number;
  field: string;
}

/** A decoded Parquet value as plain JavaScript: BigInts to numbers, typed arrays to arrays. */
function plain(value: unknown, where: Where): DatasetValue {
  if (typeof value === 'bigint') {
    const number = Number(value);
    if (!Number.isSafeInteger(number) || BigInt(number) !== value) {
      throw new UnsafeDatasetIntegerError(where.name, where.row, where.field, value);
    }
    return number;
  }
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object') return value as DatasetValue;
  if (value instanceof Uint8Array || value instanceof Date) return value;
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    const list = Array.from(value as ArrayLike<unknown>);
    return list.map((item, i) => plain(item, { ...where, field: `${where.field}[${i}]` }));
  }
  const fields: { [field: string]: DatasetValue } = {};
  for (const [key, item] of Object.entries(value)) {
    fields[key] = plain(item, { ...where, field: `${where.field}.${key}` });
  }
  return fields;
}
