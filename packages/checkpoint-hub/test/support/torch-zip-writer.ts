/**
 * Test-only writer of PyTorch checkpoints the way `torch.save(state_dict)` lays them out: a
 * protocol-2 pickle of an OrderedDict of `_rebuild_tensor_v2` tensors whose storages are
 * persistent ids, in a ZIP archive of stored entries whose data starts on 64-byte boundaries.
 */
import { deflateRawSync } from 'node:zlib';
import type { TorchStorageType } from '../../src/unpickle.js';

export interface StorageSpec {
  /** Record name under `<prefix>/data/`. */
  key: string;
  type: TorchStorageType;
  /** The storage's bytes (little-endian elements). */
  bytes: Uint8Array;
  /** Elements claimed in the persistent id; defaults to bytes / element size. */
  numel?: number;
}

export interface TensorSpec {
  name: string;
  /** Key of its storage. */
  storage: string;
  shape: number[];
  /** Defaults to contiguous row-major. */
  stride?: number[];
  storageOffset?: number;
  /** Wrap in `torch._utils._rebuild_parameter` as an `nn.Parameter` would be. */
  parameter?: boolean;
}

export const ELEMENT_BYTES: Record<TorchStorageType, number> = {
  FloatStorage: 4,
  HalfStorage: 2,
  BFloat16Storage: 2,
  DoubleStorage: 8,
  LongStorage: 8,
  IntStorage: 4,
  ShortStorage: 2,
  CharStorage: 1,
  ByteStorage: 1,
  BoolStorage: 1,
};

/** Row-major strides of `shape`. */
export function contiguousStride(shape: readonly number[]): number[] {
  const stride = new Array<number>(shape.length);
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    stride[i] = step;
    step *= shape[i] as number;
  }
  return stride;
}

/** Emits pickle opcodes, memoizing with BINPUT/LONG_BINPUT like CPython's pickler. */
export class PickleWriter {
  private readonly out: number[] = [];
  private memoCount = 0;
  private readonly globals = new Map<string, number>();

  op(...bytes: number[]): this {
    this.out.push(...bytes);
    return this;
  }

  u32(value: number): this {
    return this.op(
      value & 0xff,
      (value >>> 8) & 0xff,
      (value >>> 16) & 0xff,
      (value >>> 24) & 0xff,
    );
  }

  put(): this {
    const index = this.memoCount++;
    return index < 256 ? this.op(0x71, index) : this.op(0x72).u32(index);
  }

  get(index: number): this {
    return index < 256 ? this.op(0x68, index) : this.op(0x6a).u32(index);
  }

  int(value: number): this {
    if (value >= 0 && value < 256) return this.op(0x4b, value);
    if (value >= 0 && value < 65536) return this.op(0x4d, value & 0xff, value >> 8);
    if (value >= -(2 ** 31) && value < 2 ** 31) return this.op(0x4a).u32(value >>> 0);
    // LONG1 of 8 bytes, two's complement.
    const big = BigInt.asUintN(64, BigInt(value));
    const bytes: number[] = [];
    for (let i = 0n; i < 8n; i++) bytes.push(Number((big >> (8n * i)) & 0xffn));
    return this.op(0x8a, 8, ...bytes);
  }

  str(text: string): this {
    const bytes = new TextEncoder().encode(text);
    return this.op(0x58)
      .u32(bytes.length)
      .op(...bytes)
      .put();
  }

  /** `GLOBAL module\nname\n`, memoized so that its second use is a BINGET. */
  global(module: string, name: string): this {
    const key = `${module}\n${name}\n`;
    const memo = this.globals.get(key);
    if (memo !== undefined) return this.get(memo);
    this.op(0x63, ...new TextEncoder().encode(key));
    this.globals.set(key, this.memoCount);
    return this.put();
  }

  tuple(items: readonly number[]): this {
    if (items.length === 0) return this.op(0x29);
    if (items.length > 3) this.op(0x28);
    for (const item of items) this.int(item);
    return this.op(
      items.length <= 3 ? ([0, 0x85, 0x86, 0x87][items.length] as number) : 0x74,
    ).put();
  }

  /** `collections.OrderedDict()` */
  orderedDict(): this {
    return this.global('collections', 'OrderedDict').op(0x29, 0x52).put();
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

export interface PickleOptions {
  /** Add the `_metadata` attribute an `nn.Module.state_dict()` carries (a BUILD). */
  metadata?: boolean;
}

/** The `data.pkl` that `torch.save(OrderedDict(tensors))` writes. */
export function pickleStateDict(
  tensors: readonly TensorSpec[],
  storages: readonly StorageSpec[],
  options: PickleOptions = {},
): Uint8Array {
  const byKey = new Map(storages.map((s) => [s.key, s]));
  const w = new PickleWriter().op(0x80, 2);
  w.orderedDict().op(0x28); // MARK for SETITEMS
  for (const t of tensors) {
    const storage = byKey.get(t.storage);
    if (storage === undefined) throw new Error(`no storage ${t.storage}`);
    w.str(t.name);
    if (t.parameter) w.global('torch._utils', '_rebuild_parameter');
    w.global('torch._utils', '_rebuild_tensor_v2').op(0x28);
    // Persistent id ('storage', torch.<Type>, key, location, numel), then BINPERSID.
    w.op(0x28).str('storage').global('torch', storage.type).str(storage.key).str('cpu');
    w.int(storage.numel ?? storage.bytes.length / ELEMENT_BYTES[storage.type])
      .op(0x74)
      .put()
      .op(0x51);
    w.int(t.storageOffset ?? 0)
      .tuple(t.shape)
      .tuple(t.stride ?? contiguousStride(t.shape))
      .op(0x89)
      .orderedDict()
      .op(0x74)
      .put()
      .op(0x52)
      .put();
    if (t.parameter) w.op(0x89).orderedDict().op(0x87).put().op(0x52).put();
  }
  w.op(0x75); // SETITEMS
  if (options.metadata) {
    // state = {'_metadata': OrderedDict([('', {'version': 1})])}, then BUILD.
    w.op(0x7d).put().str('_metadata').orderedDict().op(0x28).str('').op(0x7d).put();
    w.str('version').int(1).op(0x73, 0x75, 0x73, 0x62);
  }
  return w.op(0x2e).bytes();
}

export interface ZipFileSpec {
  name: string;
  data: Uint8Array;
  /** 8 deflates the entry (what torch.save never does). Default 0, stored. */
  method?: 0 | 8;
}

export interface ZipOptions {
  /** Write ZIP64 extra fields, a ZIP64 end record and locator, and sentinel legacy fields. */
  zip64?: boolean;
  /** Pad each local header's extra field so that data starts on this boundary (torch: 64). */
  align?: number;
  /** Archive comment after the end record. */
  comment?: Uint8Array;
}

/**
 * A ZIP archive as PyTorch's writer makes it. The central records carry a padding field of a
 * different length than the local ones, as torch's do, so readers must use the local header.
 */
export function writeZip(files: readonly ZipFileSpec[], options: ZipOptions = {}): Uint8Array {
  const { zip64 = false, align = 64, comment = new Uint8Array() } = options;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const emit = (bytes: Uint8Array) => {
    chunks.push(bytes);
    offset += bytes.length;
  };
  const central: Uint8Array[] = [];
  const encoder = new TextEncoder();
  for (const f of files) {
    const name = encoder.encode(f.name);
    const method = f.method ?? 0;
    const data = method === 8 ? new Uint8Array(deflateRawSync(f.data)) : f.data;
    const crc = crc32(f.data);
    const headerOffset = offset;
    const zip64Local = zip64 ? 20 : 0;
    const base = headerOffset + 30 + name.length + zip64Local + 4;
    const pad = (align - (base % align)) % align;
    const local = new Bytes(30 + name.length + zip64Local + 4 + pad);
    local
      .u32(0x04034b50)
      .u16(zip64 ? 45 : 20)
      .u16(0)
      .u16(method)
      .u16(0)
      .u16(0x21)
      .u32(crc);
    local.u32(zip64 ? 0xffffffff : data.length).u32(zip64 ? 0xffffffff : f.data.length);
    local
      .u16(name.length)
      .u16(zip64Local + 4 + pad)
      .raw(name);
    if (zip64) local.u16(1).u16(16).u64(f.data.length).u64(data.length);
    local.u16(0x4246).u16(pad).raw(new Uint8Array(pad).fill(0x5a));
    emit(local.bytes);
    emit(data);

    const centralPad = 3;
    const zip64Central = zip64 ? 28 : 0;
    const record = new Bytes(46 + name.length + zip64Central + 4 + centralPad);
    record
      .u32(0x02014b50)
      .u16(0x031e)
      .u16(zip64 ? 45 : 20)
      .u16(0)
      .u16(method)
      .u16(0)
      .u16(0x21);
    record
      .u32(crc)
      .u32(zip64 ? 0xffffffff : data.length)
      .u32(zip64 ? 0xffffffff : f.data.length);
    record
      .u16(name.length)
      .u16(zip64Central + 4 + centralPad)
      .u16(0)
      .u16(0)
      .u16(0)
      .u32(0);
    record.u32(zip64 ? 0xffffffff : headerOffset).raw(name);
    if (zip64) record.u16(1).u16(24).u64(f.data.length).u64(data.length).u64(headerOffset);
    record.u16(0x4246).u16(centralPad).raw(new Uint8Array(centralPad).fill(0x5a));
    central.push(record.bytes);
  }
  const cdOffset = offset;
  for (const record of central) emit(record);
  const cdSize = offset - cdOffset;
  const count = files.length;
  if (zip64) {
    const recordOffset = offset;
    const record = new Bytes(56);
    record.u32(0x06064b50).u64(44).u16(45).u16(45).u32(0).u32(0);
    record.u64(count).u64(count).u64(cdSize).u64(cdOffset);
    emit(record.bytes);
    const locator = new Bytes(20);
    locator.u32(0x07064b50).u32(0).u64(recordOffset).u32(1);
    emit(locator.bytes);
  }
  const end = new Bytes(22 + comment.length);
  end.u32(0x06054b50).u16(0).u16(0);
  end.u16(zip64 ? 0xffff : count).u16(zip64 ? 0xffff : count);
  end.u32(zip64 ? 0xffffffff : cdSize).u32(zip64 ? 0xffffffff : cdOffset);
  end.u16(comment.length).raw(comment);
  emit(end.bytes);

  const out = new Uint8Array(offset);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

export interface TorchZipOptions extends ZipOptions, PickleOptions {
  tensors: readonly TensorSpec[];
  storages: readonly StorageSpec[];
  /** The archive's top folder; torch ≥ 1.6 uses `archive`, older ones the file's stem. */
  prefix?: string;
  /** Contents of `<prefix>/byteorder`; `null` leaves the record out (torch < 1.10). */
  byteorder?: string | null;
  /** Replaces the pickle (for hostile or hand-made streams). */
  pickle?: Uint8Array;
  /** Record names (under the prefix, e.g. `data/0`) to deflate. */
  compress?: readonly string[];
}

/** A complete `pytorch_model.bin` as `torch.save(state_dict)` writes it. */
export function writeTorchZip(options: TorchZipOptions): Uint8Array {
  const prefix = options.prefix ?? 'archive';
  const compress = new Set(options.compress ?? []);
  const files: ZipFileSpec[] = [];
  const add = (name: string, data: Uint8Array) =>
    files.push({ name: `${prefix}/${name}`, data, method: compress.has(name) ? 8 : 0 });
  add('data.pkl', options.pickle ?? pickleStateDict(options.tensors, options.storages, options));
  if (options.byteorder !== null) {
    add('byteorder', new TextEncoder().encode(options.byteorder ?? 'little'));
  }
  for (const s of options.storages) add(`data/${s.key}`, s.bytes);
  add('version', new TextEncoder().encode('3\n'));
  return writeZip(files, options);
}

/** Little-endian field writer over a fixed-size buffer. */
class Bytes {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private at = 0;

  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.view = new DataView(this.bytes.buffer);
  }

  u16(value: number): this {
    this.view.setUint16(this.at, value, true);
    this.at += 2;
    return this;
  }

  u32(value: number): this {
    this.view.setUint32(this.at, value >>> 0, true);
    this.at += 4;
    return this;
  }

  u64(value: number): this {
    this.view.setBigUint64(this.at, BigInt(value), true);
    this.at += 8;
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.bytes.set(bytes, this.at);
    this.at += bytes.length;
    return this;
  }
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Little-endian bytes of typed values, for storages. */
export function f32Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}
