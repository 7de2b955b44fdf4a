import { IncompleteSafetensorsError, SafetensorsWriteError } from './errors.js';
import type { RandomAccessSink } from './random-access-sink.js';
import { DTYPE_BYTES, type TensorEntry } from './tensor-entry.js';

/** The dtypes {@link SafetensorsWriter} writes. */
export type WritableDtype = 'F32' | 'F16' | 'I32' | 'I64';

/** A tensor the file will hold, declared before anything is written. */
export interface TensorDeclaration {
  name: string;
  dtype: WritableDtype;
  /** Its rows are the first axis: `[rows, …]` (a 0-d tensor, `[]`, is one row of one value). */
  shape: readonly number[];
}

/** The typed array a dtype's rows are given as: F16 as its bit patterns (`f32ArrayToF16Bits`). */
export interface RowArrays {
  F32: Float32Array;
  F16: Uint16Array;
  I32: Int32Array;
  I64: BigInt64Array;
}

/** Rows of any writable dtype. */
export type TensorRows = RowArrays[WritableDtype];

const ROW_ARRAYS: Readonly<Record<WritableDtype, string>> = {
  F32: 'Float32Array',
  F16: 'Uint16Array',
  I32: 'Int32Array',
  I64: 'BigInt64Array',
};

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** One declared tensor: where it lies, and which of its rows were written. */
interface Slot {
  entry: TensorEntry;
  rows: number;
  /** Values per row. */
  rowElements: number;
  /** Written rows as sorted, disjoint `[begin, end)` ranges. */
  written: Array<[number, number]>;
}

/**
 * Writes a safetensors file whose tensors are known up front (names, dtypes, shapes) but whose
 * values arrive in blocks of rows, in any order: the header, with every tensor's byte range, is
 * written first, and each {@link writeRows} then writes its rows where they belong. So a file of
 * any size is written with only a block in memory, and Python reads it as any other
 * (`safetensors.numpy.load_file`, `safe_open(path, 'np')`).
 *
 * The layout is the reference implementation's: an 8-byte little-endian header length, the JSON
 * header (`__metadata__` first when there is any, then each tensor's `dtype`, `shape` and
 * `data_offsets`) padded with spaces to a multiple of 8 bytes, then the tensors back to back,
 * the wider dtypes first so that each tensor is aligned to its element size.
 *
 * `finish` closes the sink only when every row of every tensor was written; on a failure, call
 * {@link abort} so that the sink discards what it holds.
 *
 * @example
 * ```ts
 * const writer = await SafetensorsWriter.create(sink, [
 *   { name: 'acts', dtype: 'F32', shape: [1000, 512] },
 *   { name: 'ids', dtype: 'I32', shape: [1000] },
 * ], { metadata: { model: 'EleutherAI/pythia-70m' } });
 * await writer.writeRows('acts', 0, new Float32Array(100 * 512)); // rows 0…99
 * // … the other rows of both tensors …
 * await writer.finish(); // IncompleteSafetensorsError if a row is missing
 * ```
 */
export class SafetensorsWriter {
  private state: 'open' | 'finishing' | 'finished' | 'aborted' = 'open';
  private readonly pending = new Set<Promise<unknown>>();

  private constructor(
    private readonly sink: RandomAccessSink,
    private readonly slots: Map<string, Slot>,
    /** The file's tensors in the order they lie, with their absolute offsets. */
    readonly tensors: readonly TensorEntry[],
    /** The file's `__metadata__`. */
    readonly metadata: Readonly<Record<string, string>>,
    /** Bytes of the whole file. */
    readonly size: number,
  ) {}

  /**
   * Lays out the file, writes its header to `sink` and returns the writer of its tensors.
   *
   * @throws {SafetensorsWriteError} a declaration the format cannot hold: an empty, repeated or
   *   reserved (`__metadata__`) name, another dtype, a shape of other than whole numbers, a
   *   metadata value that is not a string. Nothing was written then. A failed header write is
   *   the sink's error; the sink is the caller's to abort.
   */
  static async create(
    sink: RandomAccessSink,
    tensors: readonly TensorDeclaration[],
    options: { metadata?: Record<string, string> } = {},
  ): Promise<SafetensorsWriter> {
    const metadata = { ...options.metadata };
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string')
        throw new SafetensorsWriteError(
          `metadata ${JSON.stringify(key)} is a ${typeof value}; safetensors metadata maps strings to strings (JSON.stringify other values)`,
        );
    }
    const seen = new Set<string>();
    for (const t of tensors) checkDeclaration(t, seen);
    // Wider elements first (stable otherwise), so each tensor starts aligned to its element size.
    const ordered = tensors
      .map((t, i) => ({ t, i }))
      .sort((a, b) => DTYPE_BYTES[b.t.dtype] - DTYPE_BYTES[a.t.dtype] || a.i - b.i)
      .map(({ t }) => t);
    const fields: string[] = [];
    if (Object.keys(metadata).length > 0) fields.push(`"__metadata__":${JSON.stringify(metadata)}`);
    let offset = 0;
    const ranges: Array<[number, number]> = [];
    for (const t of ordered) {
      const end = offset + elementsOf(t.shape) * DTYPE_BYTES[t.dtype];
      if (!Number.isSafeInteger(end))
        throw new SafetensorsWriteError(
          `the tensors are larger than ${Number.MAX_SAFE_INTEGER} bytes together`,
        );
      ranges.push([offset, end]);
      fields.push(
        `${JSON.stringify(t.name)}:${JSON.stringify({ dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, end] })}`,
      );
      offset = end;
    }
    let json = new TextEncoder().encode(`{${fields.join(',')}}`);
    const padding = (8 - (json.length % 8)) % 8;
    if (padding > 0) {
      const padded = new Uint8Array(json.length + padding).fill(0x20);
      padded.set(json);
      json = padded;
    }
    const header = new Uint8Array(8 + json.length);
    new DataView(header.buffer).setBigUint64(0, BigInt(json.length), true);
    header.set(json, 8);
    const dataStart = header.length;

    const entries: TensorEntry[] = ordered.map((t, i) => {
      const [begin, end] = ranges[i]!;
      return {
        name: t.name,
        dtype: t.dtype,
        shape: [...t.shape],
        offset: dataStart + begin,
        byteLength: end - begin,
      };
    });
    const byName = new Map(entries.map((e) => [e.name, e]));
    // In the order declared, as the errors name them.
    const slots = new Map<string, Slot>();
    for (const t of tensors) {
      const rows = t.shape.length === 0 ? 1 : t.shape[0]!;
      const rowElements = elementsOf(t.shape.slice(1));
      // A tensor without values has nothing to write.
      const empty = rows === 0 || rowElements === 0;
      slots.set(t.name, {
        entry: byName.get(t.name)!,
        rows,
        rowElements,
        written: empty ? [[0, rows]] : [],
      });
    }
    await sink.write(0, header);
    return new SafetensorsWriter(sink, slots, entries, metadata, dataStart + offset);
  }

  /**
   * Writes rows `firstRow …` of tensor `name`: `data` holds whole rows (a multiple of the
   * product of the shape after its first axis), as the typed array of the tensor's dtype
   * ({@link RowArrays}). Writes may overlap (the later wins) and run concurrently; keep `data`
   * unchanged until the write resolves.
   *
   * @throws {SafetensorsWriteError} an undeclared name, another typed array, a length that is
   *   not whole rows, rows outside the tensor, or a writer already finished or aborted.
   */
  async writeRows(name: string, firstRow: number, data: TensorRows): Promise<void> {
    if (this.state !== 'open')
      throw new SafetensorsWriteError(
        `cannot write ${name}: the writer is ${this.state === 'finishing' ? 'finishing' : this.state}`,
      );
    const slot = this.slots.get(name);
    if (!slot) {
      const names = [...this.slots.keys()];
      throw new SafetensorsWriteError(
        `the file declares no tensor ${JSON.stringify(name)}; it holds ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''}`,
      );
    }
    const { entry, rowElements, rows } = slot;
    const expected = ROW_ARRAYS[entry.dtype as WritableDtype];
    const given = ArrayBuffer.isView(data)
      ? (data as unknown as { [Symbol.toStringTag]: string })[Symbol.toStringTag]
      : typeof data;
    if (given !== expected) {
      throw new SafetensorsWriteError(
        `tensor ${name} is ${entry.dtype}: give its rows as a ${expected}` +
          `${entry.dtype === 'F16' ? ' of f16 bit patterns (f32ArrayToF16Bits)' : ''}, not a ${given}`,
      );
    }
    const shape = `${entry.dtype}[${entry.shape.join(', ')}]`;
    if (rowElements === 0 ? data.length !== 0 : data.length % rowElements !== 0) {
      throw new SafetensorsWriteError(
        `tensor ${name} is ${shape}, rows of ${rowElements} values; ${data.length} values are not whole rows`,
      );
    }
    const count = rowElements === 0 ? 0 : data.length / rowElements;
    if (!Number.isSafeInteger(firstRow) || firstRow < 0 || firstRow + count > rows) {
      throw new SafetensorsWriteError(
        `tensor ${name} is ${shape}: rows ${firstRow}…${firstRow + count - 1} are not all among its rows 0…${rows - 1}`,
      );
    }
    if (count === 0) return;
    const size = DTYPE_BYTES[entry.dtype];
    let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (!LITTLE_ENDIAN) bytes = littleEndian(bytes, size);
    const write = this.sink
      .write(entry.offset + firstRow * rowElements * size, bytes)
      .then(() => markWritten(slot, firstRow, firstRow + count));
    this.pending.add(write);
    try {
      await write;
    } finally {
      this.pending.delete(write);
    }
  }

  /** Each tensor with rows not yet written, and those rows as `[begin, end)` ranges. */
  missingRows(): Array<{ tensor: string; rows: Array<[number, number]> }> {
    const missing: Array<{ tensor: string; rows: Array<[number, number]> }> = [];
    for (const [tensor, slot] of this.slots) {
      const rows: Array<[number, number]> = [];
      let at = 0;
      for (const [begin, end] of slot.written) {
        if (begin > at) rows.push([at, begin]);
        at = end;
      }
      if (at < slot.rows) rows.push([at, slot.rows]);
      if (rows.length > 0) missing.push({ tensor, rows });
    }
    return missing;
  }

  /**
   * Waits for the writes in flight, then closes the sink (a file sink renames the file into
   * place). Refuses while any row of any tensor is unwritten, closing nothing: write those rows
   * and finish again, or {@link abort}.
   *
   * @throws {IncompleteSafetensorsError} rows that were never written, named.
   */
  async finish(): Promise<void> {
    if (this.state !== 'open')
      throw new SafetensorsWriteError(`cannot finish: the writer is ${this.state}`);
    this.state = 'finishing';
    await Promise.allSettled(this.pending);
    const missing = this.missingRows();
    if (missing.length > 0) {
      this.state = 'open';
      throw new IncompleteSafetensorsError(missing);
    }
    try {
      await this.sink.close();
    } catch (error) {
      // What closing left behind is for abort() to discard.
      this.state = 'open';
      throw error;
    }
    this.state = 'finished';
  }

  /**
   * Discards the file: waits for the writes in flight and aborts the sink. Nothing to do after
   * {@link finish} succeeded, or a second time.
   */
  async abort(): Promise<void> {
    if (this.state === 'finished' || this.state === 'aborted') return;
    this.state = 'aborted';
    await Promise.allSettled(this.pending);
    await this.sink.abort();
  }
}

function elementsOf(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

function checkDeclaration(t: TensorDeclaration, seen: Set<string>): void {
  if (typeof t.name !== 'string' || t.name === '')
    throw new SafetensorsWriteError('a tensor needs a name (a non-empty string)');
  if (t.name === '__metadata__')
    throw new SafetensorsWriteError(
      "__metadata__ is the name of the header's metadata, not a tensor; pass metadata as { metadata }",
    );
  if (seen.has(t.name))
    throw new SafetensorsWriteError(`tensor ${t.name} is declared twice; names are unique`);
  seen.add(t.name);
  if (!Object.hasOwn(ROW_ARRAYS, t.dtype))
    throw new SafetensorsWriteError(
      `tensor ${t.name} has dtype ${String(t.dtype)}; the writer writes ${Object.keys(ROW_ARRAYS).join(', ')}`,
    );
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw new SafetensorsWriteError(
      `tensor ${t.name} has shape ${JSON.stringify(t.shape)}; a shape is a list of whole numbers ≥ 0`,
    );
}

/** Records rows `[begin, end)` as written, keeping the ranges sorted and merged. */
function markWritten(slot: Slot, begin: number, end: number): void {
  const merged: Array<[number, number]> = [];
  let added = false;
  for (const range of slot.written) {
    if (range[1] < begin) merged.push(range);
    else if (range[0] > end) {
      if (!added) merged.push([begin, end]);
      added = true;
      merged.push(range);
    } else {
      begin = Math.min(begin, range[0]);
      end = Math.max(end, range[1]);
    }
  }
  if (!added) merged.push([begin, end]);
  slot.written = merged;
}

/** `bytes` of `size`-byte elements in this (big-endian) machine's order, as little-endian. */
function littleEndian(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += size)
    for (let j = 0; j < size; j++) out[i + j] = bytes[i + size - 1 - j]!;
  return out;
}
