import { CorruptCheckpointError, ForbiddenPickleGlobalError } from './errors.js';

/** The typed storage classes `torch.save` names in a state dict's persistent ids. */
export type TorchStorageType =
  | 'FloatStorage'
  | 'HalfStorage'
  | 'BFloat16Storage'
  | 'DoubleStorage'
  | 'LongStorage'
  | 'IntStorage'
  | 'ShortStorage'
  | 'CharStorage'
  | 'ByteStorage'
  | 'BoolStorage';

const STORAGE_TYPES: ReadonlySet<string> = new Set<TorchStorageType>([
  'FloatStorage',
  'HalfStorage',
  'BFloat16Storage',
  'DoubleStorage',
  'LongStorage',
  'IntStorage',
  'ShortStorage',
  'CharStorage',
  'ByteStorage',
  'BoolStorage',
]);

/**
 * An allow-listed Python global, resolved to an inert marker: nothing is imported or called.
 * `REDUCE` on it is interpreted by this module (an empty `OrderedDict`, a tensor view).
 */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}

/** A Python tuple. */
export class PickleTuple {
  constructor(readonly items: readonly PickleValue[]) {}
}

/** A Python list. */
export class PickleList {
  readonly items: PickleValue[] = [];
}

/**
 * A Python `dict` or `collections.OrderedDict`, in insertion order. Strings and numbers are keys
 * by value; other keys (tuples, …) by identity, which is all a state dict needs.
 */
export class PickleDict {
  readonly items = new Map<PickleValue, PickleValue>();
  constructor(readonly ordered: boolean) {}
}

/** A storage reference from a persistent id `('storage', <type>, key, location, numel)`. */
export class TorchStorage {
  constructor(
    readonly storageType: TorchStorageType,
    /** Record name under `<prefix>/data/`. */
    readonly key: string,
    /** Device it was saved from (`cpu`, `cuda:0`); irrelevant here. */
    readonly location: string,
    /** Elements in the storage. */
    readonly numel: number,
  ) {}
}

/** A tensor as `torch._utils._rebuild_tensor_v2` describes it: a strided view of a storage. */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    /** Offset of the first element, in elements of the storage. */
    readonly storageOffset: number,
    readonly shape: readonly number[],
    /** Elements to step per index of each dimension. */
    readonly stride: readonly number[],
  ) {}
}

/** What the restricted unpickler can produce. */
export type PickleValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | PickleTuple
  | PickleList
  | PickleDict
  | PickleGlobal
  | TorchStorage
  | TorchTensor;

/** Refuse inputs whose stack or memo grows past these (a real state dict stays far below). */
const MAX_STACK = 1 << 20;
const MAX_MEMO = 1 << 22;

const utf8 = new TextDecoder('utf-8');

/**
 * Unpickles what `torch.save(state_dict)` writes to `data.pkl`, protocols 2 to 5, WITHOUT running
 * anything: a pickle is a program for Python's pickle VM, and a hostile one can call any Python
 * function (`posix.system`, `builtins.eval`). Here globals resolve only from an allow-list —
 * `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter`
 * and the `torch.*Storage` types — to inert markers, and `REDUCE` on them is interpreted, not
 * called. Persistent ids `('storage', type, key, location, numel)` become {@link TorchStorage}s
 * and rebuilt tensors {@link TorchTensor}s, so a state dict comes back as a {@link PickleDict}
 * from names to tensors. The work is linear in the input and the stack and memo are bounded, so
 * damaged input fails fast.
 *
 * @example
 * ```ts
 * const root = unpickle(dataPkl, 'pytorch_model.bin');
 * if (root instanceof PickleDict) for (const [name, tensor] of root.items) console.log(name, tensor);
 * ```
 * @throws {ForbiddenPickleGlobalError} a global outside the allow-list (nothing was executed).
 * @throws {CorruptCheckpointError} an unknown opcode, a truncated stream, a stack underflow, or
 *   a value of the wrong kind where the opcode or a torch rebuild function needs another.
 */
export function unpickle(data: Uint8Array, file: string): PickleValue {
  return new Machine(data, file).run();
}

/** Python's name for a global, as error messages show it. */
function qualified(module: string, name: string): string {
  return `${module}.${name}`;
}

/** The marker of an allow-listed global, or a ForbiddenPickleGlobalError. */
function resolveGlobal(module: string, name: string, file: string): PickleGlobal {
  const allowed =
    (module === 'collections' && name === 'OrderedDict') ||
    (module === 'torch._utils' &&
      (name === '_rebuild_tensor_v2' || name === '_rebuild_parameter')) ||
    (module === 'torch' && STORAGE_TYPES.has(name));
  if (!allowed) throw new ForbiddenPickleGlobalError(file, qualified(module, name));
  return new PickleGlobal(module, name);
}

class Machine {
  private pos = 0;
  private stack: PickleValue[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PickleValue>();
  private readonly view: DataView;

  constructor(
    private readonly data: Uint8Array,
    private readonly file: string,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  private corrupt(problem: string): CorruptCheckpointError {
    return new CorruptCheckpointError(this.file, `pickle ${problem}`);
  }

  run(): PickleValue {
    const data = this.data;
    for (;;) {
      if (this.pos >= data.length) throw this.corrupt('stream ends before its STOP opcode');
      const at = this.pos;
      const op = data[this.pos++] as number;
      switch (op) {
        case 0x80: {
          // PROTO
          const version = this.u8();
          if (version < 2 || version > 5)
            throw this.corrupt(`protocol ${version} is not supported`);
          break;
        }
        case 0x95: // FRAME: a length prefix for buffering; the frame's opcodes follow inline.
          this.take(8);
          break;
        case 0x2e: // STOP
          return this.pop();
        case 0x28: // MARK
          if (this.marks.length >= MAX_STACK) throw this.corrupt('has too many nested MARKs');
          this.marks.push(this.stack.length);
          break;
        case 0x30: // POP
          this.pop();
          break;
        case 0x31: // POP_MARK
          this.popMark();
          break;
        case 0x32: // DUP
          this.push(this.top());
          break;
        case 0x7d: // EMPTY_DICT
          this.push(new PickleDict(false));
          break;
        case 0x64: {
          // DICT
          const dict = new PickleDict(false);
          this.setItems(dict, this.popMark());
          this.push(dict);
          break;
        }
        case 0x5d: // EMPTY_LIST
          this.push(new PickleList());
          break;
        case 0x6c: {
          // LIST
          const list = new PickleList();
          list.items.push(...this.popMark());
          this.push(list);
          break;
        }
        case 0x29: // EMPTY_TUPLE
          this.push(new PickleTuple([]));
          break;
        case 0x74: // TUPLE
          this.push(new PickleTuple(this.popMark()));
          break;
        case 0x85: // TUPLE1
          this.push(new PickleTuple(this.popN(1)));
          break;
        case 0x86: // TUPLE2
          this.push(new PickleTuple(this.popN(2)));
          break;
        case 0x87: // TUPLE3
          this.push(new PickleTuple(this.popN(3)));
          break;
        case 0x61: {
          // APPEND
          const item = this.pop();
          this.list(this.top(), 'APPEND').items.push(item);
          break;
        }
        case 0x65: {
          // APPENDS
          const items = this.popMark();
          const list = this.list(this.top(), 'APPENDS');
          for (const item of items) list.items.push(item);
          break;
        }
        case 0x73: {
          // SETITEM
          const [key, value] = this.popN(2) as [PickleValue, PickleValue];
          this.dict(this.top(), 'SETITEM').items.set(key, value);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = this.popMark();
          this.setItems(this.dict(this.top(), 'SETITEMS'), items);
          break;
        }
        case 0x71: // BINPUT
          this.put(this.u8());
          break;
        case 0x72: // LONG_BINPUT
          this.put(this.u32());
          break;
        case 0x94: // MEMOIZE
          this.put(this.memo.size);
          break;
        case 0x68: // BINGET
          this.get(this.u8());
          break;
        case 0x6a: // LONG_BINGET
          this.get(this.u32());
          break;
        case 0x4a: // BININT
          this.push(this.view.getInt32(this.take(4), true));
          break;
        case 0x4b: // BININT1
          this.push(this.u8());
          break;
        case 0x4d: // BININT2
          this.push(this.view.getUint16(this.take(2), true));
          break;
        case 0x8a: // LONG1
          this.push(this.long(this.u8()));
          break;
        case 0x8b: {
          // LONG4
          const length = this.view.getInt32(this.take(4), true);
          if (length < 0) throw this.corrupt(`LONG4 at byte ${at} has a negative length`);
          this.push(this.long(length));
          break;
        }
        case 0x47: // BINFLOAT (big-endian, unlike everything else)
          this.push(this.view.getFloat64(this.take(8), false));
          break;
        case 0x4e: // NONE
          this.push(null);
          break;
        case 0x88: // NEWTRUE
          this.push(true);
          break;
        case 0x89: // NEWFALSE
          this.push(false);
          break;
        case 0x58: // BINUNICODE
          this.push(utf8.decode(this.bytes(this.u32())));
          break;
        case 0x8c: // SHORT_BINUNICODE
          this.push(utf8.decode(this.bytes(this.u8())));
          break;
        case 0x8d: // BINUNICODE8
          this.push(utf8.decode(this.bytes(this.u64())));
          break;
        case 0x54: {
          // BINSTRING: a Python 2 str, read as Latin-1 like Python 3's default encoding='ASCII' + bytes.
          const length = this.view.getInt32(this.take(4), true);
          if (length < 0) throw this.corrupt(`BINSTRING at byte ${at} has a negative length`);
          this.push(latin1(this.bytes(length)));
          break;
        }
        case 0x55: // SHORT_BINSTRING
          this.push(latin1(this.bytes(this.u8())));
          break;
        case 0x42: // BINBYTES
          this.push(this.bytes(this.u32()).slice());
          break;
        case 0x43: // SHORT_BINBYTES
          this.push(this.bytes(this.u8()).slice());
          break;
        case 0x8e: // BINBYTES8
          this.push(this.bytes(this.u64()).slice());
          break;
        case 0x63: {
          // GLOBAL: "module\nname\n"
          const module = this.line();
          const name = this.line();
          this.push(resolveGlobal(module, name, this.file));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const [module, name] = this.popN(2);
          if (typeof module !== 'string' || typeof name !== 'string') {
            throw this.corrupt(`STACK_GLOBAL at byte ${at} needs two strings`);
          }
          this.push(resolveGlobal(module, name, this.file));
          break;
        }
        case 0x52: {
          // REDUCE
          const args = this.pop();
          const callable = this.pop();
          this.push(this.reduce(callable, args, at));
          break;
        }
        case 0x81: {
          // NEWOBJ: cls.__new__(cls, *args); only OrderedDict is ever built this way.
          const args = this.pop();
          const cls = this.pop();
          this.push(this.newObject(cls, args, at));
          break;
        }
        case 0x92: {
          // NEWOBJ_EX: as NEWOBJ, with keyword arguments that must be empty.
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          if (!(kwargs instanceof PickleDict) || kwargs.items.size > 0) {
            throw this.corrupt(`NEWOBJ_EX at byte ${at} has keyword arguments`);
          }
          this.push(this.newObject(cls, args, at));
          break;
        }
        case 0x62: {
          // BUILD: obj.__setstate__(state). torch's OrderedDict carries a `_metadata` attribute
          // (per-module version numbers) that the weights do not need: it is ignored.
          this.pop();
          const target = this.top();
          if (!(target instanceof PickleDict)) {
            throw this.corrupt(`BUILD at byte ${at} targets ${kind(target)}, not an OrderedDict`);
          }
          break;
        }
        case 0x51: {
          // BINPERSID: torch's reference to a storage saved as its own archive record.
          this.push(this.persistentLoad(this.pop(), at));
          break;
        }
        default:
          throw this.corrupt(
            `opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at} is not supported`,
          );
      }
    }
  }

  private reduce(callable: PickleValue, args: PickleValue, at: number): PickleValue {
    if (!(callable instanceof PickleGlobal)) {
      throw this.corrupt(`REDUCE at byte ${at} calls ${kind(callable)}`);
    }
    if (!(args instanceof PickleTuple)) {
      throw this.corrupt(`REDUCE at byte ${at} passes ${kind(args)} as arguments`);
    }
    const name = qualified(callable.module, callable.name);
    const a = args.items;
    switch (name) {
      case 'collections.OrderedDict':
        if (a.length !== 0) throw this.corrupt(`OrderedDict at byte ${at} is built with arguments`);
        return new PickleDict(true);
      case 'torch._utils._rebuild_tensor_v2': {
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        if (a.length !== 6 && a.length !== 7) {
          throw this.corrupt(
            `_rebuild_tensor_v2 at byte ${at} takes ${a.length} arguments, not 6 or 7`,
          );
        }
        const [storage, offset, size, stride, requiresGrad, hooks] = a;
        if (!(storage instanceof TorchStorage)) {
          throw this.corrupt(`_rebuild_tensor_v2 at byte ${at} rebuilds from ${kind(storage)}`);
        }
        if (!isCount(offset))
          throw this.corrupt(`_rebuild_tensor_v2 at byte ${at} has a bad storage offset`);
        const shape = this.counts(size, 'size', at);
        const strides = this.counts(stride, 'stride', at);
        if (shape.length !== strides.length) {
          throw this.corrupt(
            `_rebuild_tensor_v2 at byte ${at} has ${shape.length} sizes but ${strides.length} strides`,
          );
        }
        if (typeof requiresGrad !== 'boolean' || !(hooks instanceof PickleDict)) {
          throw this.corrupt(
            `_rebuild_tensor_v2 at byte ${at} has bad requires_grad or hooks arguments`,
          );
        }
        return new TorchTensor(storage, offset, shape, strides);
      }
      case 'torch._utils._rebuild_parameter': {
        // (data, requires_grad, backward_hooks): an nn.Parameter is its tensor here.
        const [tensor] = a;
        if (a.length !== 3 || !(tensor instanceof TorchTensor)) {
          throw this.corrupt(`_rebuild_parameter at byte ${at} does not wrap a tensor`);
        }
        return tensor;
      }
      default:
        throw this.corrupt(`REDUCE at byte ${at} calls ${name}, which is not a function`);
    }
  }

  private newObject(cls: PickleValue, args: PickleValue, at: number): PickleValue {
    if (
      cls instanceof PickleGlobal &&
      cls.module === 'collections' &&
      cls.name === 'OrderedDict' &&
      args instanceof PickleTuple &&
      args.items.length === 0
    ) {
      return new PickleDict(true);
    }
    throw this.corrupt(`NEWOBJ at byte ${at} builds ${kind(cls)}, which a state dict never holds`);
  }

  private persistentLoad(pid: PickleValue, at: number): TorchStorage {
    const items = pid instanceof PickleTuple ? pid.items : [];
    const [tag, type, key, location, numel] = items;
    if (
      items.length !== 5 ||
      tag !== 'storage' ||
      !(type instanceof PickleGlobal) ||
      type.module !== 'torch' ||
      !STORAGE_TYPES.has(type.name) ||
      typeof key !== 'string' ||
      typeof location !== 'string' ||
      !isCount(numel)
    ) {
      throw this.corrupt(
        `persistent id at byte ${at} is not ('storage', <torch storage type>, key, location, numel)`,
      );
    }
    return new TorchStorage(type.name as TorchStorageType, key, location, numel);
  }

  private counts(value: PickleValue | undefined, what: string, at: number): number[] {
    if (!(value instanceof PickleTuple) || !value.items.every(isCount)) {
      throw this.corrupt(
        `_rebuild_tensor_v2 at byte ${at} has a ${what} that is not a tuple of counts`,
      );
    }
    return value.items as number[];
  }

  private setItems(dict: PickleDict, items: PickleValue[]): void {
    if (items.length % 2 !== 0) throw this.corrupt('SETITEMS has a key without a value');
    for (let i = 0; i < items.length; i += 2) {
      dict.items.set(items[i] as PickleValue, items[i + 1] as PickleValue);
    }
  }

  private list(value: PickleValue, op: string): PickleList {
    if (!(value instanceof PickleList))
      throw this.corrupt(`${op} targets ${kind(value)}, not a list`);
    return value;
  }

  private dict(value: PickleValue, op: string): PickleDict {
    if (!(value instanceof PickleDict))
      throw this.corrupt(`${op} targets ${kind(value)}, not a dict`);
    return value;
  }

  private put(index: number): void {
    if (this.memo.size >= MAX_MEMO && !this.memo.has(index))
      throw this.corrupt('memo grows too large');
    this.memo.set(index, this.top());
  }

  private get(index: number): void {
    if (!this.memo.has(index))
      throw this.corrupt(`reads memo slot ${index}, which was never written`);
    this.push(this.memo.get(index) as PickleValue);
  }

  private push(value: PickleValue): void {
    if (this.stack.length >= MAX_STACK) throw this.corrupt('stack grows too deep');
    this.stack.push(value);
  }

  private pop(): PickleValue {
    const floor = this.marks.length > 0 ? (this.marks[this.marks.length - 1] as number) : 0;
    if (this.stack.length <= floor) throw this.corrupt(`stack underflow at byte ${this.pos - 1}`);
    return this.stack.pop() as PickleValue;
  }

  private popN(n: number): PickleValue[] {
    const floor = this.marks.length > 0 ? (this.marks[this.marks.length - 1] as number) : 0;
    if (this.stack.length - n < floor)
      throw this.corrupt(`stack underflow at byte ${this.pos - 1}`);
    return this.stack.splice(this.stack.length - n, n);
  }

  private top(): PickleValue {
    const floor = this.marks.length > 0 ? (this.marks[this.marks.length - 1] as number) : 0;
    if (this.stack.length <= floor) throw this.corrupt(`stack underflow at byte ${this.pos - 1}`);
    return this.stack[this.stack.length - 1] as PickleValue;
  }

  /** The items pushed since the last MARK, removing them and the mark. */
  private popMark(): PickleValue[] {
    const mark = this.marks.pop();
    if (mark === undefined)
      throw this.corrupt(`needs a MARK at byte ${this.pos - 1}, and there is none`);
    return this.stack.splice(mark);
  }

  /** Position of `n` more bytes, advancing past them. */
  private take(n: number): number {
    if (n > this.data.length - this.pos) throw this.corrupt('stream is truncated');
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private bytes(n: number): Uint8Array {
    const at = this.take(n);
    return this.data.subarray(at, at + n);
  }

  private u8(): number {
    return this.data[this.take(1)] as number;
  }

  private u32(): number {
    return this.view.getUint32(this.take(4), true);
  }

  private u64(): number {
    const value = this.view.getBigUint64(this.take(8), true);
    // Any length past the end of the data is a truncation, whatever its size.
    return value > BigInt(this.data.length) ? this.data.length + 1 : Number(value);
  }

  /** A little-endian two's-complement integer of `n` bytes (LONG1/LONG4); small ones only. */
  private long(n: number): number {
    const bytes = this.bytes(n);
    if (n === 0) return 0;
    if (n > 8) throw this.corrupt(`integer of ${n} bytes is too large for a state dict`);
    let value = 0n;
    for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] as number);
    if ((bytes[n - 1] as number) & 0x80) value -= 1n << BigInt(8 * n);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw this.corrupt(`integer ${value} is too large for a state dict`);
    }
    return Number(value);
  }

  /** A newline-terminated ASCII line (GLOBAL's operands). */
  private line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) throw this.corrupt('stream is truncated inside a GLOBAL');
    const text = utf8.decode(this.data.subarray(this.pos, end));
    this.pos = end + 1;
    return text;
  }
}

function isCount(value: PickleValue | undefined): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function latin1(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return text;
}

/** A short description of a value's kind for error messages (never its contents). */
function kind(value: PickleValue | undefined): string {
  if (value === undefined) return 'a missing value';
  if (value === null) return 'None';
  if (value instanceof PickleGlobal) return qualified(value.module, value.name);
  if (value instanceof Uint8Array) return 'bytes';
  if (value instanceof PickleTuple) return 'a tuple';
  if (value instanceof PickleList) return 'a list';
  if (value instanceof PickleDict) return value.ordered ? 'an OrderedDict' : 'a dict';
  if (value instanceof TorchStorage) return 'a storage';
  if (value instanceof TorchTensor) return 'a tensor';
  return `a ${typeof value}`;
}
