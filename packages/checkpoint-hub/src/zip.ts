import type { ByteSource } from './byte-source.js';
import { CorruptCheckpointError } from './errors.js';

/** One file of a ZIP archive, as its central directory describes it. */
export interface ZipEntry {
  /** Path inside the archive, e.g. `archive/data/0`. */
  name: string;
  /** Length of the name in bytes as stored (the local header must repeat it). */
  nameLength: number;
  /** Length of the entry's data in bytes (stored entries: compressed size = uncompressed size). */
  size: number;
  /** CRC-32 recorded for the data (not checked: the data is never read whole). */
  crc32: number;
  /** Absolute offset of the entry's local file header in the source. */
  localHeaderOffset: number;
}

/** A ZIP archive's central directory. */
export interface ZipDirectory {
  /** Entries in central-directory order. */
  entries: ZipEntry[];
  /** Absolute offset where the central directory starts; every entry's data lies before it. */
  centralDirectoryOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_BYTES = 22;
const ZIP64_LOCATOR_BYTES = 20;
const ZIP64_EOCD_BYTES = 56;
const CENTRAL_BYTES = 46;
const LOCAL_BYTES = 30;
/** The EOCD record (22 bytes) may be followed by a comment of at most 65535 bytes. */
const MAX_EOCD_SEARCH = EOCD_BYTES + 0xffff;
/** Fields set to these sentinels hold their real value in a ZIP64 record or extra field. */
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
const ZIP64_EXTRA_ID = 0x0001;
/** An entry's central record is 46 bytes plus three variable fields of at most 65535 bytes. */
const MAX_CENTRAL_RECORD = CENTRAL_BYTES + 3 * 0xffff;

const utf8 = new TextDecoder('utf-8');

/**
 * Reads the central directory of a ZIP archive: the End Of Central Directory record (searched
 * backwards from the end, past an archive comment of up to 64 KiB), the ZIP64 records when the
 * archive uses them, then the central directory itself. Only those bytes are read, never the
 * entries' data, so this works on a multi-gigabyte file behind HTTP Range requests.
 *
 * Every entry must be stored uncompressed (method 0), which is how `torch.save` writes its
 * archives: a compressed entry cannot be read in place, so it is reported as damage.
 *
 * @example
 * ```ts
 * const source = bytesSource(bytes);
 * const directory = await readZipDirectory(source, 'pytorch_model.bin');
 * const pkl = directory.entries.find((e) => e.name.endsWith('/data.pkl'))!;
 * const offset = await zipEntryDataOffset(source, 'pytorch_model.bin', pkl, directory);
 * const pickle = await source.read(offset, pkl.size);
 * ```
 * @throws {CorruptCheckpointError} no EOCD record, a truncated or inconsistent directory, an
 *   offset or size outside the file, a multi-disk, encrypted or compressed entry.
 */
export async function readZipDirectory(source: ByteSource, file: string): Promise<ZipDirectory> {
  const corrupt = (problem: string) => new CorruptCheckpointError(file, problem);
  const size = source.size;
  if (size < EOCD_BYTES) throw corrupt(`${size} bytes is too short for a ZIP archive`);

  const tailLength = Math.min(size, MAX_EOCD_SEARCH);
  const tailStart = size - tailLength;
  const tail = await source.read(tailStart, tailLength);
  const tailView = view(tail);
  const eocdAt = findEocd(tailView);
  if (eocdAt < 0) {
    throw corrupt(
      'no ZIP end-of-central-directory record (not a torch.save archive, or truncated)',
    );
  }
  const eocd = tailStart + eocdAt;
  const disk = tailView.getUint16(eocdAt + 4, true);
  const cdDisk = tailView.getUint16(eocdAt + 6, true);
  let entriesOnDisk: number = tailView.getUint16(eocdAt + 8, true);
  let count: number = tailView.getUint16(eocdAt + 10, true);
  let cdSize: number = tailView.getUint32(eocdAt + 12, true);
  let cdOffset: number = tailView.getUint32(eocdAt + 16, true);
  // The central directory must end before whatever follows it: the ZIP64 record, or the EOCD.
  let cdLimit = eocd;

  const locatorAt = eocdAt - ZIP64_LOCATOR_BYTES;
  const locator = await readZip64Locator(source, tailView, tailStart, locatorAt, eocd);
  if (locator !== undefined) {
    if (locator.disk !== 0 || locator.disks > 1)
      throw corrupt('multi-disk ZIP64 archives are not supported');
    const recordAt = locator.recordOffset;
    if (recordAt + ZIP64_EOCD_BYTES > eocd - ZIP64_LOCATOR_BYTES) {
      throw corrupt(`ZIP64 end-of-central-directory record offset ${recordAt} is outside the file`);
    }
    const record = view(await source.read(recordAt, ZIP64_EOCD_BYTES));
    if (record.getUint32(0, true) !== ZIP64_EOCD_SIGNATURE) {
      throw corrupt(`no ZIP64 end-of-central-directory record at offset ${recordAt}`);
    }
    if (record.getUint32(16, true) !== 0 || record.getUint32(20, true) !== 0) {
      throw corrupt('multi-disk ZIP64 archives are not supported');
    }
    entriesOnDisk = u64(record, 24, corrupt);
    count = u64(record, 32, corrupt);
    cdSize = u64(record, 40, corrupt);
    cdOffset = u64(record, 48, corrupt);
    cdLimit = recordAt;
  } else if (disk !== 0 || cdDisk !== 0) {
    throw corrupt('multi-disk (spanned) ZIP archives are not supported');
  }
  if (entriesOnDisk !== count) throw corrupt('multi-disk (spanned) ZIP archives are not supported');
  if (cdOffset + cdSize > cdLimit) {
    throw corrupt(
      `central directory [${cdOffset}, ${cdOffset + cdSize}) runs past its end record at ${cdLimit}`,
    );
  }
  if (count * CENTRAL_BYTES > cdSize || cdSize > count * MAX_CENTRAL_RECORD) {
    throw corrupt(`central directory of ${cdSize} bytes cannot hold ${count} entries`);
  }

  const cd = await source.read(cdOffset, cdSize);
  const cdView = view(cd);
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + CENTRAL_BYTES > cdSize || cdView.getUint32(at, true) !== CENTRAL_SIGNATURE) {
      throw corrupt(`central directory record ${i} of ${count} is missing or damaged`);
    }
    const flags = cdView.getUint16(at + 8, true);
    const method = cdView.getUint16(at + 10, true);
    const crc32 = cdView.getUint32(at + 16, true);
    let compressedSize: number = cdView.getUint32(at + 20, true);
    let uncompressedSize: number = cdView.getUint32(at + 24, true);
    const nameLength = cdView.getUint16(at + 28, true);
    const extraLength = cdView.getUint16(at + 30, true);
    const commentLength = cdView.getUint16(at + 32, true);
    let diskStart: number = cdView.getUint16(at + 34, true);
    let localHeaderOffset: number = cdView.getUint32(at + 42, true);
    const nameAt = at + CENTRAL_BYTES;
    const extraAt = nameAt + nameLength;
    const next = extraAt + extraLength + commentLength;
    if (next > cdSize) throw corrupt(`central directory record ${i} runs past the directory`);
    const name = utf8.decode(cd.subarray(nameAt, extraAt));

    // ZIP64: a field holding its sentinel is given in full, in this order, in extra field 0x0001.
    if (
      compressedSize === U32_MAX ||
      uncompressedSize === U32_MAX ||
      localHeaderOffset === U32_MAX ||
      diskStart === U16_MAX
    ) {
      const zip64 = findExtra(cdView, extraAt, extraLength, ZIP64_EXTRA_ID);
      if (zip64 === undefined) throw corrupt(`entry ${name} lacks its ZIP64 extra field`);
      let field = zip64.at;
      const take = (): number => {
        if (field + 8 > zip64.at + zip64.length) {
          throw corrupt(`ZIP64 extra field of entry ${name} is too short`);
        }
        const value = u64(cdView, field, corrupt);
        field += 8;
        return value;
      };
      if (uncompressedSize === U32_MAX) uncompressedSize = take();
      if (compressedSize === U32_MAX) compressedSize = take();
      if (localHeaderOffset === U32_MAX) localHeaderOffset = take();
      if (diskStart === U16_MAX) {
        if (field + 4 > zip64.at + zip64.length) {
          throw corrupt(`ZIP64 extra field of entry ${name} is too short`);
        }
        diskStart = cdView.getUint32(field, true);
      }
    }

    if (diskStart !== 0) throw corrupt(`entry ${name} lies on another disk of a spanned archive`);
    if (flags & 0x1) throw corrupt(`entry ${name} is encrypted`);
    if (method !== 0) {
      throw corrupt(
        `entry ${name} is compressed (method ${method}); torch.save writes stored (uncompressed) ` +
          'entries, so this archive was repacked or damaged',
      );
    }
    if (compressedSize !== uncompressedSize) {
      throw corrupt(
        `stored entry ${name} has compressed size ${compressedSize} but size ${uncompressedSize}`,
      );
    }
    // The data follows a local header of at least 30 bytes + the name; all before the directory.
    if (localHeaderOffset + LOCAL_BYTES + nameLength + compressedSize > cdOffset) {
      throw corrupt(`entry ${name} at offset ${localHeaderOffset} runs into the central directory`);
    }
    entries.push({ name, nameLength, size: compressedSize, crc32, localHeaderOffset });
    at = next;
  }
  return { entries, centralDirectoryOffset: cdOffset };
}

/**
 * The absolute offset of an entry's data: its local header's offset + 30 + the LOCAL name and
 * extra lengths. The local extra length must be read from the local header itself: the ZIP
 * format lets it differ from the central record's (a local ZIP64 field holds two sizes, a central
 * one three values; writers pad either), and torch sizes the local padding field so that the data
 * starts on a 64-byte boundary (for mmap). Only the local header says where the data begins.
 *
 * Reads only the entry's local header (30 bytes + its name).
 *
 * @example
 * ```ts
 * const offset = await zipEntryDataOffset(source, 'pytorch_model.bin', entry, directory);
 * const data = await source.read(offset, entry.size);
 * ```
 * @throws {CorruptCheckpointError} the local header is missing, names another file, or its data
 *   would run past the central directory.
 */
export async function zipEntryDataOffset(
  source: ByteSource,
  file: string,
  entry: ZipEntry,
  directory: ZipDirectory,
): Promise<number> {
  const corrupt = (problem: string) => new CorruptCheckpointError(file, problem);
  const headerLength = LOCAL_BYTES + entry.nameLength;
  const limit = directory.centralDirectoryOffset;
  if (entry.localHeaderOffset + headerLength + entry.size > limit) {
    throw corrupt(
      `entry ${entry.name} at offset ${entry.localHeaderOffset} runs into the central directory`,
    );
  }
  const header = await source.read(entry.localHeaderOffset, headerLength);
  const local = view(header);
  if (local.getUint32(0, true) !== LOCAL_SIGNATURE) {
    throw corrupt(
      `no local file header for entry ${entry.name} at offset ${entry.localHeaderOffset}`,
    );
  }
  const nameLength = local.getUint16(26, true);
  const extraLength = local.getUint16(28, true);
  if (nameLength !== entry.nameLength || utf8.decode(header.subarray(LOCAL_BYTES)) !== entry.name) {
    throw corrupt(
      `local file header at offset ${entry.localHeaderOffset} does not name ${entry.name}`,
    );
  }
  const dataOffset = entry.localHeaderOffset + headerLength + extraLength;
  if (dataOffset + entry.size > limit) {
    throw corrupt(`data of entry ${entry.name} runs into the central directory`);
  }
  return dataOffset;
}

/** The EOCD's position in `tail`, scanning backwards: the last signature whose comment fits. */
function findEocd(tail: DataView): number {
  for (let at = tail.byteLength - EOCD_BYTES; at >= 0; at--) {
    if (tail.getUint32(at, true) !== EOCD_SIGNATURE) continue;
    const commentLength = tail.getUint16(at + 20, true);
    if (at + EOCD_BYTES + commentLength <= tail.byteLength) return at;
  }
  return -1;
}

interface Zip64Locator {
  disk: number;
  recordOffset: number;
  disks: number;
}

/** The ZIP64 locator right before the EOCD, when there is one. */
async function readZip64Locator(
  source: ByteSource,
  tail: DataView,
  tailStart: number,
  locatorAt: number,
  eocd: number,
): Promise<Zip64Locator | undefined> {
  const absolute = eocd - ZIP64_LOCATOR_BYTES;
  if (absolute < 0) return undefined;
  // The locator is normally inside the tail already read; read it separately when it is not.
  const locator =
    locatorAt >= 0
      ? new DataView(tail.buffer, tail.byteOffset + locatorAt, ZIP64_LOCATOR_BYTES)
      : view(await source.read(tailStart + locatorAt, ZIP64_LOCATOR_BYTES));
  if (locator.getUint32(0, true) !== ZIP64_LOCATOR_SIGNATURE) return undefined;
  const recordOffset = locator.getBigUint64(8, true);
  return {
    disk: locator.getUint32(4, true),
    recordOffset:
      recordOffset > BigInt(Number.MAX_SAFE_INTEGER)
        ? Number.MAX_SAFE_INTEGER
        : Number(recordOffset),
    disks: locator.getUint32(16, true),
  };
}

/** Extra-field block `id` among the (id, length, data) blocks at `[at, at + length)`. */
function findExtra(
  data: DataView,
  at: number,
  length: number,
  id: number,
): { at: number; length: number } | undefined {
  const end = at + length;
  let p = at;
  while (p + 4 <= end) {
    const blockId = data.getUint16(p, true);
    const blockLength = data.getUint16(p + 2, true);
    if (p + 4 + blockLength > end) return undefined;
    if (blockId === id) return { at: p + 4, length: blockLength };
    p += 4 + blockLength;
  }
  return undefined;
}

function u64(data: DataView, at: number, corrupt: (problem: string) => Error): number {
  const value = data.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER))
    throw corrupt(`ZIP64 value ${value} is out of range`);
  return Number(value);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
