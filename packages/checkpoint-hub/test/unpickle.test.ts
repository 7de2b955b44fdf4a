import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesSource } from '../src/byte-source.js';
import { CorruptCheckpointError, ForbiddenPickleGlobalError } from '../src/errors.js';
import {
  PickleDict,
  type PickleList,
  type PickleTuple,
  type PickleValue,
  TorchStorage,
  TorchTensor,
  unpickle,
} from '../src/unpickle.js';
import { readZipDirectory, zipEntryDataOffset } from '../src/zip.js';
import { pickleStateDict } from './support/torch-zip-writer.js';

/** Assembles a pickle: numbers are bytes, strings their ASCII bytes. */
type Part = number | string | Part[];
function pickle(...parts: Part[]): Uint8Array {
  const out: number[] = [];
  const add = (part: Part) => {
    if (typeof part === 'number') out.push(part);
    else if (typeof part === 'string') for (const c of part) out.push(c.charCodeAt(0));
    else part.forEach(add);
  };
  parts.forEach(add);
  return Uint8Array.from(out);
}
const le32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const le64 = (n: number) => [...le32(n), 0, 0, 0, 0];

// Opcodes, named as in CPython's pickle.py.
const PROTO = 0x80;
const STOP = 0x2e;
const MARK = 0x28;
const FRAME = 0x95;
const NONE = 0x4e;
const NEWTRUE = 0x88;
const NEWFALSE = 0x89;
const BININT = 0x4a;
const BININT1 = 0x4b;
const BININT2 = 0x4d;
const LONG1 = 0x8a;
const LONG4 = 0x8b;
const BINFLOAT = 0x47;
const BINUNICODE = 0x58;
const SHORT_BINUNICODE = 0x8c;
const BINUNICODE8 = 0x8d;
const BINSTRING = 0x54;
const SHORT_BINSTRING = 0x55;
const BINBYTES = 0x42;
const SHORT_BINBYTES = 0x43;
const EMPTY_LIST = 0x5d;
const APPEND = 0x61;
const APPENDS = 0x65;
const LIST = 0x6c;
const EMPTY_DICT = 0x7d;
const DICT = 0x64;
const SETITEM = 0x73;
const EMPTY_TUPLE = 0x29;
const TUPLE = 0x74;
const TUPLE1 = 0x85;
const TUPLE2 = 0x86;
const TUPLE3 = 0x87;
const BINPUT = 0x71;
const LONG_BINPUT = 0x72;
const MEMOIZE = 0x94;
const BINGET = 0x68;
const LONG_BINGET = 0x6a;
const GLOBAL = 0x63;
const STACK_GLOBAL = 0x93;
const REDUCE = 0x52;
const BUILD = 0x62;
const NEWOBJ = 0x81;
const BINPERSID = 0x51;

const run = (...parts: Part[]) => unpickle(pickle(...parts), 'test.bin');
const items = (value: PickleValue) => (value as PickleTuple | PickleList).items;

describe('unpickle: values', () => {
  it('reads integers of every width, floats, None and booleans', () => {
    const value = run(
      [PROTO, 2],
      [MARK],
      [BININT, le32(-5)],
      [BININT1, 200],
      [BININT2, 0xe8, 0x03],
      [LONG1, 2, 0x00, 0x80], // -32768
      [LONG1, 0], // 0
      [LONG4, le32(3), 0x01, 0x00, 0x01], // 65537
      [BINFLOAT, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0], // 1.5, big-endian
      [NONE],
      [NEWTRUE],
      [NEWFALSE],
      [TUPLE],
      [STOP],
    );
    expect(items(value)).toEqual([-5, 200, 1000, -32768, 0, 65537, 1.5, null, true, false]);
  });

  it('reads text and bytes in all their encodings', () => {
    const value = run(
      [PROTO, 4],
      [MARK],
      [BINUNICODE, le32(6), 0x63, 0x61, 0x66, 0xc3, 0xa9, 0x21], // 'café!' in UTF-8
      [SHORT_BINUNICODE, 3, 'cpu'],
      [BINUNICODE8, le64(2), 'ok'],
      [BINSTRING, le32(3), 'abc'],
      [SHORT_BINSTRING, 1, 0xe9], // Latin-1 'é'
      [BINBYTES, le32(2), 1, 2],
      [SHORT_BINBYTES, 1, 255],
      [TUPLE],
      [STOP],
    );
    expect(items(value)).toEqual([
      'café!',
      'cpu',
      'ok',
      'abc',
      'é',
      new Uint8Array([1, 2]),
      new Uint8Array([255]),
    ]);
  });

  it('builds lists, dicts and tuples, and shares memoized objects', () => {
    const value = run(
      [PROTO, 2],
      [MARK],
      [EMPTY_LIST, BINPUT, 0],
      [BININT1, 1, APPEND],
      [MARK, BININT1, 2, BININT1, 3, APPENDS],
      [EMPTY_DICT, LONG_BINPUT, le32(300)],
      [SHORT_BINUNICODE, 1, 'k', BINGET, 0, SETITEM],
      [MARK, SHORT_BINUNICODE, 1, 'a', NONE, DICT],
      [MARK, BININT1, 7, LIST, MEMOIZE], // memo holds slots 0 and 300, so this is slot 2
      [LONG_BINGET, le32(300)],
      [BINGET, 2],
      [EMPTY_TUPLE],
      [BININT1, 1, TUPLE1],
      [BININT1, 1, BININT1, 2, TUPLE2],
      [BININT1, 1, BININT1, 2, BININT1, 3, TUPLE3],
      [TUPLE],
      [STOP],
    );
    const [list, dict, dictA, seven, dictAgain, sevenAgain, ...tuples] = items(value) as [
      PickleList,
      PickleDict,
      PickleDict,
      PickleList,
      PickleDict,
      PickleList,
      ...PickleTuple[],
    ];
    expect(list.items).toEqual([1, 2, 3]);
    expect(dict.items.get('k')).toBe(list); // BINGET hands back the same object, not a copy
    expect([...dictA.items]).toEqual([['a', null]]);
    expect(seven.items).toEqual([7]);
    expect(dictAgain).toBe(dict);
    expect(sevenAgain).toBe(seven);
    expect(tuples.map((t) => t.items)).toEqual([[], [1], [1, 2], [1, 2, 3]]);
  });

  it('follows protocol 4 framing and STACK_GLOBAL', () => {
    const value = run(
      [PROTO, 4],
      [FRAME, le64(40)],
      [SHORT_BINUNICODE, 11, 'collections', MEMOIZE],
      [SHORT_BINUNICODE, 11, 'OrderedDict', MEMOIZE],
      [STACK_GLOBAL, MEMOIZE],
      [EMPTY_TUPLE, REDUCE],
      [STOP],
    );
    expect(value).toBeInstanceOf(PickleDict);
    expect((value as PickleDict).ordered).toBe(true);
  });
});

describe('unpickle: what torch.save writes', () => {
  const storages = [{ key: '0', type: 'HalfStorage' as const, bytes: new Uint8Array(24) }];
  const tensors = [
    { name: 'w', storage: '0', shape: [2, 3], storageOffset: 6 },
    { name: 'p', storage: '0', shape: [12], parameter: true },
  ];

  it('turns a state dict into an OrderedDict of strided views of persistent storages', () => {
    const root = unpickle(pickleStateDict(tensors, storages, { metadata: true }), 'test.bin');
    expect(root).toBeInstanceOf(PickleDict);
    const dict = root as PickleDict;
    expect(dict.ordered).toBe(true);
    expect([...dict.items.keys()]).toEqual(['w', 'p']); // `_metadata` (a BUILD) is ignored
    const w = dict.items.get('w') as TorchTensor;
    expect(w).toBeInstanceOf(TorchTensor);
    expect(w.storage).toEqual(new TorchStorage('HalfStorage', '0', 'cpu', 12));
    expect([w.storageOffset, w.shape, w.stride]).toEqual([6, [2, 3], [3, 1]]);
    // _rebuild_parameter unwraps to the tensor it holds.
    const p = dict.items.get('p') as TorchTensor;
    expect([p.storageOffset, p.shape, p.stride]).toEqual([0, [12], [1]]);
  });

  it('reads the data.pkl of tiny-neox-bin: 34 tensors in state-dict order', async () => {
    const bytes = new Uint8Array(
      readFileSync(new URL('../../../fixtures/tiny-neox-bin/pytorch_model.bin', import.meta.url)),
    );
    const source = bytesSource(bytes);
    const directory = await readZipDirectory(source, 'pytorch_model.bin');
    const entry = directory.entries[0]!;
    const pkl = await source.read(
      await zipEntryDataOffset(source, 'x', entry, directory),
      entry.size,
    );
    const dict = unpickle(pkl, 'pytorch_model.bin') as PickleDict;
    expect(dict.items.size).toBe(34);
    const first = dict.items.get('gpt_neox.embed_in.weight') as TorchTensor;
    expect(first.storage).toEqual(new TorchStorage('HalfStorage', '0', 'cpu', 131072));
    expect(first.shape).toEqual([2048, 64]);
    const mask = dict.items.get('gpt_neox.layers.1.attention.bias') as TorchTensor;
    expect([mask.storage.storageType, mask.storage.key, mask.shape, mask.stride]).toEqual([
      'BoolStorage',
      '20',
      [1, 1, 256, 256],
      [65536, 65536, 256, 1],
    ]);
  });
});

describe('unpickle: never executes anything', () => {
  it('refuses GLOBAL posix.system before anything could call it', () => {
    // The classic payload: os.system('echo pwned'), i.e. `cposix\nsystem\n(S'echo pwned'\ntR.`
    const payload = pickle(
      [GLOBAL, 'posix\nsystem\n'],
      [MARK, SHORT_BINUNICODE, 10, 'echo pwned', TUPLE],
      [REDUCE],
      [STOP],
    );
    expect(() => unpickle(payload, 'evil.bin')).toThrow(ForbiddenPickleGlobalError);
    try {
      unpickle(payload, 'evil.bin');
    } catch (error) {
      expect(error).toMatchObject({ file: 'evil.bin', global: 'posix.system' });
      expect((error as Error).message).toMatch(/nothing was executed/);
    }
  });

  it('refuses builtins.eval by STACK_GLOBAL, and torch globals outside the allow-list', () => {
    const evalCall = pickle(
      [PROTO, 4],
      [SHORT_BINUNICODE, 8, 'builtins'],
      [SHORT_BINUNICODE, 4, 'eval'],
      [STACK_GLOBAL],
      [STOP],
    );
    expect(() => unpickle(evalCall, 'x')).toThrow(
      expect.objectContaining({ global: 'builtins.eval' }),
    );
    for (const global of [
      'torch\nload\n',
      'torch._utils\n_rebuild_device_tensor_from_numpy\n',
      'torch\nStorage\n',
      'collections\ndefaultdict\n',
    ]) {
      expect(() => unpickle(pickle(PROTO, 2, GLOBAL, global, STOP), 'x')).toThrow(
        ForbiddenPickleGlobalError,
      );
    }
  });

  it('never calls an allow-listed storage type, nor treats data as a callable', () => {
    expect(() => run(PROTO, 2, GLOBAL, 'torch\nFloatStorage\n', EMPTY_TUPLE, REDUCE, STOP)).toThrow(
      /calls torch.FloatStorage, which is not a function/,
    );
    expect(() => run(PROTO, 2, NONE, EMPTY_TUPLE, REDUCE, STOP)).toThrow(
      /REDUCE at byte 4 calls None/,
    );
    expect(() => run(PROTO, 2, GLOBAL, 'collections\nOrderedDict\n', NONE, REDUCE, STOP)).toThrow(
      /passes None as arguments/,
    );
    expect(() => run(PROTO, 2, EMPTY_LIST, NONE, EMPTY_TUPLE, NEWOBJ, STOP)).toThrow(/NEWOBJ/);
  });
});

describe('unpickle: damaged streams', () => {
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['an unknown opcode', pickle(PROTO, 2, 0xff, STOP), /opcode 0xff at byte 2 is not supported/],
    ['a protocol-0 text opcode', pickle(PROTO, 2, 0x49, '1\n', STOP), /opcode 0x49/],
    ['protocol 6', pickle(PROTO, 6, NONE, STOP), /protocol 6 is not supported/],
    ['a stack underflow', pickle(PROTO, 2, BININT1, 1, TUPLE2, STOP), /stack underflow/],
    ['STOP on an empty stack', pickle(PROTO, 2, STOP), /stack underflow/],
    ['no STOP', pickle(PROTO, 2, NONE), /ends before its STOP/],
    [
      'a string longer than the stream',
      pickle(PROTO, 2, BINUNICODE, le32(1000), 'abc'),
      /truncated/,
    ],
    [
      'a huge BINUNICODE8 length',
      pickle(PROTO, 4, BINUNICODE8, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], STOP),
      /truncated/,
    ],
    [
      'an unterminated GLOBAL',
      pickle(PROTO, 2, GLOBAL, 'collections'),
      /truncated inside a GLOBAL/,
    ],
    ['a memo slot never written', pickle(PROTO, 2, BINGET, 9, STOP), /memo slot 9/],
    ['TUPLE without MARK', pickle(PROTO, 2, NONE, TUPLE, STOP), /needs a MARK/],
    ['APPEND to a dict', pickle(PROTO, 2, EMPTY_DICT, NONE, APPEND, STOP), /APPEND targets a dict/],
    [
      'SETITEM on a list',
      pickle(PROTO, 2, EMPTY_LIST, NONE, NONE, SETITEM, STOP),
      /SETITEM targets a list/,
    ],
    [
      'BUILD on a tuple',
      pickle(PROTO, 2, EMPTY_TUPLE, EMPTY_DICT, BUILD, STOP),
      /BUILD at byte 4 targets a tuple/,
    ],
    [
      'a 9-byte LONG1',
      pickle(PROTO, 2, LONG1, 9, [1, 2, 3, 4, 5, 6, 7, 8, 9], STOP),
      /9 bytes is too large/,
    ],
    [
      'a LONG1 beyond 2^53',
      pickle(PROTO, 2, LONG1, 8, [0, 0, 0, 0, 0, 0, 0, 1], STOP),
      /too large/,
    ],
    [
      'a persistent id that is not a storage',
      pickle(PROTO, 2, NONE, BINPERSID, STOP),
      /persistent id/,
    ],
    [
      '_rebuild_tensor_v2 of a non-storage',
      pickle(
        [PROTO, 2],
        [GLOBAL, 'torch._utils\n_rebuild_tensor_v2\n'],
        [MARK, NONE, BININT1, 0, EMPTY_TUPLE, EMPTY_TUPLE, NEWFALSE, EMPTY_DICT, TUPLE],
        [REDUCE],
        [STOP],
      ),
      /rebuilds from None/,
    ],
  ];
  it.each(cases)('rejects %s with CorruptCheckpointError', (_, bytes, message) => {
    expect(() => unpickle(bytes, 'bad.bin')).toThrow(CorruptCheckpointError);
    expect(() => unpickle(bytes, 'bad.bin')).toThrow(message);
  });

  it('handles 100 000 scattered LONG_BINPUT slots in linear time', () => {
    const parts: number[] = [PROTO, 2, NONE];
    for (let i = 0; i < 100_000; i++) parts.push(LONG_BINPUT, ...le32(i * 7919));
    parts.push(STOP);
    expect(unpickle(Uint8Array.from(parts), 'x')).toBeNull();
  });
});
