import type { ByteSource } from './byte-source.js';
import { CorruptCheckpointError, UnsupportedTorchCheckpointError } from './errors.js';
import { DTYPE_BYTES, isUnusedBuffer, type TensorDtype, type TensorEntry } from './tensor-entry.js';
import { PickleDict, type TorchStorageType, TorchTensor, unpickle } from './unpickle.js';
import { readZipDirectory, type ZipDirectory, type ZipEntry, zipEntryDataOffset } from './zip.js';

/** The tensors of a PyTorch `.bin` checkpoint, located in the file. */
export interface TorchCheckpoint {
  /** Tensors in state-dict order, each a contiguous run of bytes of the file. */
  tensors: TensorEntry[];
  /** Legacy buffers (see `isUnusedBuffer`) that were left out; their bytes are never read. */
  skipped: string[];
  /** The archive's top folder: `archive` since torch 1.6's default, or the file's stem before. */
  prefix: string;
}

/** Element type of each torch storage class. */
const STORAGE_DTYPES: Readonly<Record<TorchStorageType, TensorDtype>> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

/** A state dict's pickle holds names and shapes only; anything larger is damage. */
const MAX_PICKLE_BYTES = 64 * 1024 * 1024;
/** Local headers read at once when locating storages (HTTP sources serve them in parallel). */
const CONCURRENT_READS = 16;

/**
 * Locates every tensor of a PyTorch checkpoint written by `torch.save(state_dict)` (the ZIP
 * format of torch ≥ 1.6, the `pytorch_model*.bin` files of the Hub) without Python and without
 * reading the weights: the ZIP central directory, `<prefix>/data.pkl` (unpickled by a restricted
 * VM that executes nothing) and the local headers of the storage records the tensors use.
 *
 * Each tensor becomes a {@link TensorEntry} whose `offset` is the absolute position of its first
 * byte in the file, so its bytes can be read in place like a safetensors tensor. Checked: the
 * storage type maps to a dtype, the view lies inside its storage record, the strides are
 * contiguous row-major, and the archive is little-endian. Legacy buffers that the model
 * recomputes (`attention.bias`, `attention.masked_bias`, `attention.rotary_emb.inv_freq`) are
 * listed in `skipped` and their records are not even located.
 *
 * @example
 * ```ts
 * const source = blobSource(await fs.openAsBlob('pytorch_model.bin'));
 * const { tensors, skipped } = await readTorchCheckpoint(source, 'pytorch_model.bin');
 * const qkv = tensors.find((t) => t.name.endsWith('layers.0.attention.query_key_value.weight'))!;
 * const bytes = await source.read(qkv.offset, qkv.byteLength); // F16, shape [192, 64]
 * ```
 * @throws {CorruptCheckpointError} a damaged archive or pickle, a missing storage record, a view
 *   outside its storage.
 * @throws {ForbiddenPickleGlobalError} the pickle asks for a Python global a state dict never
 *   needs (nothing was executed).
 * @throws {UnsupportedTorchCheckpointError} a big-endian or pre-1.6 (non-ZIP) checkpoint, or a
 *   non-contiguous tensor.
 */
export async function readTorchCheckpoint(
  source: ByteSource,
  file: string,
): Promise<TorchCheckpoint> {
  const corrupt = (problem: string) => new CorruptCheckpointError(file, problem);
  const directory = await readDirectory(source, file);

  const pickles = directory.entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  const [pickleEntry] = pickles;
  if (pickleEntry === undefined) throw corrupt('the archive has no <folder>/data.pkl');
  if (pickles.length > 1) throw corrupt('the archive has more than one <folder>/data.pkl');
  const prefix = pickleEntry.name.slice(0, -'/data.pkl'.length);
  const records = new Map<string, ZipEntry>();
  for (const entry of directory.entries) records.set(entry.name, entry);

  await checkByteOrder(source, file, directory, records.get(`${prefix}/byteorder`));

  if (pickleEntry.size > MAX_PICKLE_BYTES) {
    throw corrupt(`data.pkl is ${pickleEntry.size} bytes, far more than a state dict's pickle`);
  }
  const pickleOffset = await zipEntryDataOffset(source, file, pickleEntry, directory);
  const root = unpickle(await source.read(pickleOffset, pickleEntry.size), file);
  if (!(root instanceof PickleDict)) throw corrupt('data.pkl does not hold a state dict');

  // First pass: validate each view against its storage; note which records must be located.
  interface Pending {
    name: string;
    dtype: TensorDtype;
    shape: number[];
    byteLength: number;
    record: ZipEntry;
    byteOffset: number;
  }
  const pending: Pending[] = [];
  const skipped: string[] = [];
  const storageTypes = new Map<string, TorchStorageType>();
  for (const [name, value] of root.items) {
    if (typeof name !== 'string') throw corrupt('the state dict has a key that is not a string');
    if (!(value instanceof TorchTensor)) throw corrupt(`state dict entry ${name} is not a tensor`);
    if (isUnusedBuffer(name)) {
      skipped.push(name);
      continue;
    }
    const { storage, storageOffset, shape, stride } = value;
    const dtype = STORAGE_DTYPES[storage.storageType];
    const elementBytes = DTYPE_BYTES[dtype];
    const seenType = storageTypes.get(storage.key);
    if (seenType !== undefined && seenType !== storage.storageType) {
      throw corrupt(`storage ${storage.key} is both a ${seenType} and a ${storage.storageType}`);
    }
    storageTypes.set(storage.key, storage.storageType);

    let numel = 1;
    for (const dim of shape) numel *= dim;
    if (!Number.isSafeInteger(numel * elementBytes)) {
      throw corrupt(`tensor ${name} has an impossible shape [${shape.join(', ')}]`);
    }
    if (numel > 0 && !isContiguous(shape, stride)) {
      throw new UnsupportedTorchCheckpointError(
        file,
        `tensor ${name} is a non-contiguous view of its storage (shape [${shape.join(', ')}], ` +
          `stride [${stride.join(', ')}]); only contiguous row-major tensors can be read in place. ` +
          'Re-save the state dict with every tensor made .contiguous()',
      );
    }
    if (numel > 0 && storageOffset + numel > storage.numel) {
      throw corrupt(
        `tensor ${name} needs elements [${storageOffset}, ${storageOffset + numel}) of storage ` +
          `${storage.key}, which has ${storage.numel}`,
      );
    }
    const record = records.get(`${prefix}/data/${storage.key}`);
    if (record === undefined)
      throw corrupt(`storage record ${prefix}/data/${storage.key} is missing`);
    if (record.size !== storage.numel * elementBytes) {
      throw corrupt(
        `storage record ${record.name} holds ${record.size} bytes, not ${storage.numel} × ` +
          `${elementBytes} for its ${storage.numel} ${dtype} elements`,
      );
    }
    pending.push({
      name,
      dtype,
      shape: [...shape],
      byteLength: numel * elementBytes,
      record,
      byteOffset: storageOffset * elementBytes,
    });
  }

  // Second pass: locate the data of each record in use (one local header each, in parallel).
  const dataOffsets = await locateAll(source, file, directory, [
    ...new Set(pending.map((p) => p.record)),
  ]);
  const tensors = pending.map(
    (p): TensorEntry => ({
      name: p.name,
      dtype: p.dtype,
      shape: p.shape,
      offset: (dataOffsets.get(p.record) as number) + p.byteOffset,
      byteLength: p.byteLength,
    }),
  );
  return { tensors, skipped, prefix };
}

/** The central directory; a legacy (pre-ZIP) torch.save file is told apart from damage. */
async function readDirectory(source: ByteSource, file: string): Promise<ZipDirectory> {
  try {
    return await readZipDirectory(source, file);
  } catch (error) {
    // torch < 1.6 wrote a bare pickle stream (magic number first), which starts with PROTO 2.
    if (error instanceof CorruptCheckpointError && source.size >= 2) {
      const head = await source.read(0, 2);
      if (head[0] === 0x80 && head[1] === 0x02) {
        throw new UnsupportedTorchCheckpointError(
          file,
          'it is in the legacy (pre-1.6) torch.save format, not a ZIP archive; ' +
            're-save it with torch.save from PyTorch 1.6 or later',
        );
      }
    }
    throw error;
  }
}

/** `<prefix>/byteorder` (absent before torch 1.10: little-endian) must say `little`. */
async function checkByteOrder(
  source: ByteSource,
  file: string,
  directory: ZipDirectory,
  entry: ZipEntry | undefined,
): Promise<void> {
  if (entry === undefined) return;
  if (entry.size > 16) throw new CorruptCheckpointError(file, 'the byteorder record is too long');
  const offset = await zipEntryDataOffset(source, file, entry, directory);
  const order = new TextDecoder().decode(await source.read(offset, entry.size)).trim();
  if (order === 'little') return;
  if (order === 'big') {
    throw new UnsupportedTorchCheckpointError(
      file,
      'it was saved on a big-endian machine; this package reads little-endian tensors only',
    );
  }
  throw new CorruptCheckpointError(file, `the byteorder record says ${JSON.stringify(order)}`);
}

/**
 * Row-major contiguity, as torch's `is_contiguous` defines it: each stride is the product of the
 * sizes after it, except that the stride of a dimension of size 1 does not matter.
 */
function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const size = shape[i] as number;
    if (size !== 1 && stride[i] !== expected) return false;
    expected *= size;
  }
  return true;
}

async function locateAll(
  source: ByteSource,
  file: string,
  directory: ZipDirectory,
  entries: ZipEntry[],
): Promise<Map<ZipEntry, number>> {
  const offsets = new Map<ZipEntry, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < entries.length) {
      const entry = entries[next++] as ZipEntry;
      offsets.set(entry, await zipEntryDataOffset(source, file, entry, directory));
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_READS, entries.length) }, worker));
  return offsets;
}
