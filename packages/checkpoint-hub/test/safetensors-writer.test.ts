import { writeSafetensors } from '@pythiajs/vitest-config/safetensors';
import { describe, expect, it } from 'vitest';
import {
  bytesSource,
  IncompleteSafetensorsError,
  memorySink,
  type RandomAccessSink,
  readSafetensorsHeader,
  readTensorBytes,
  SafetensorsWriteError,
  SafetensorsWriter,
  type TensorDeclaration,
  tensorData,
} from '../src/index.js';

const bytesOf = (array: ArrayBufferView) =>
  new Uint8Array(array.buffer, array.byteOffset, array.byteLength);

/** What a reader that knows only the format sees: parsed here, without the package's reader. */
function parseIndependently(file: Uint8Array) {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const length = Number(view.getBigUint64(0, true));
  const headerText = new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(8, 8 + length));
  const header = JSON.parse(headerText) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>
  >;
  const dataStart = 8 + length;
  const values = (name: string): number[] | bigint[] => {
    const {
      dtype,
      data_offsets: [begin, end],
    } = header[name] as {
      dtype: string;
      data_offsets: [number, number];
    };
    const out: Array<number | bigint> = [];
    const readers: Record<string, [number, (at: number) => number | bigint]> = {
      F32: [4, (at) => view.getFloat32(at, true)],
      F16: [2, (at) => view.getUint16(at, true)],
      I32: [4, (at) => view.getInt32(at, true)],
      I64: [8, (at) => view.getBigInt64(at, true)],
    };
    const [size, get] = readers[dtype] ?? [];
    if (!size || !get) throw new Error(`unexpected dtype ${dtype}`);
    for (let at = dataStart + begin; at < dataStart + end; at += size) out.push(get(at));
    return out as number[] | bigint[];
  };
  return { length, headerText, header, dataStart, values };
}

const DECLARED: TensorDeclaration[] = [
  { name: 'acts.f16', dtype: 'F16', shape: [5, 3] },
  { name: 'acts.f32', dtype: 'F32', shape: [4, 2, 3] },
  { name: 'ids', dtype: 'I32', shape: [7] },
  { name: 'starts', dtype: 'I64', shape: [3] },
  { name: 'scalar', dtype: 'F32', shape: [] },
];

const f32 = Float32Array.from({ length: 24 }, (_, i) => i * 0.5 - 3);
const f16 = Uint16Array.from({ length: 15 }, (_, i) => 0x3c00 + i);
const ids = Int32Array.from([5, -1, 2 ** 31 - 1, 0, 42, 7, 9]);
const starts = BigInt64Array.from([0n, 4n, 2n ** 40n]);

/** Every declared tensor written, in blocks of rows, out of order and concurrently. */
async function writeAll(writer: SafetensorsWriter) {
  await Promise.all([
    writer.writeRows('acts.f32', 2, f32.subarray(12)), // rows 2…3
    writer.writeRows('acts.f32', 0, f32.subarray(0, 12)), // rows 0…1
    writer.writeRows('acts.f16', 3, f16.subarray(9)),
    writer.writeRows('acts.f16', 0, f16.subarray(0, 9)),
  ]);
  await writer.writeRows('ids', 4, ids.subarray(4));
  await writer.writeRows('ids', 0, ids.subarray(0, 4));
  await writer.writeRows('starts', 0, starts);
  await writer.writeRows('scalar', 0, Float32Array.of(42));
}

describe('SafetensorsWriter', () => {
  it('writes a file the package reader gives back exactly, with its metadata', async () => {
    const sink = memorySink();
    const writer = await SafetensorsWriter.create(sink, DECLARED, {
      metadata: { model: 'EleutherAI/pythia-70m', note: 'ünïcode' },
    });
    await writeAll(writer);
    await writer.finish();
    expect(sink.state).toBe('closed');
    const file = sink.bytes();
    expect(file.length).toBe(writer.size);
    const source = bytesSource(file);
    const { tensors, metadata } = await readSafetensorsHeader(source, 'acts.safetensors');
    expect(metadata).toEqual({ model: 'EleutherAI/pythia-70m', note: 'ünïcode' });
    expect(tensors).toEqual(writer.tensors);
    const read = async (name: string) => {
      const entry = tensors.find((t) => t.name === name)!;
      return tensorData(entry.dtype, await readTensorBytes(source, entry));
    };
    expect(await read('acts.f32')).toEqual(f32);
    expect(await read('acts.f16')).toEqual(f16);
    expect(await read('ids')).toEqual(ids);
    expect(await read('starts')).toEqual(starts);
    expect(await read('scalar')).toEqual(Float32Array.of(42));
    expect(tensors.find((t) => t.name === 'acts.f32')!.shape).toEqual([4, 2, 3]);
  });

  it('follows the format as a reader that knows only the format reads it', async () => {
    const sink = memorySink();
    const writer = await SafetensorsWriter.create(sink, DECLARED, { metadata: { a: 'b' } });
    await writeAll(writer);
    await writer.finish();
    const file = sink.bytes();
    const { length, headerText, header, dataStart, values } = parseIndependently(file);
    // The header is padded with spaces to a multiple of 8 bytes and starts with `{`.
    expect(length % 8).toBe(0);
    expect(headerText.startsWith('{')).toBe(true);
    expect(headerText.trimEnd().endsWith('}')).toBe(true);
    expect(headerText.slice(headerText.trimEnd().length)).toMatch(/^ {0,7}$/);
    expect(Object.keys(header)[0]).toBe('__metadata__');
    expect(header.__metadata__).toEqual({ a: 'b' });
    // The ranges tile the data, widest dtype first, each aligned to its element size.
    const entries = Object.entries(header)
      .filter(([name]) => name !== '__metadata__')
      .map(([name, e]) => ({ name, ...(e as { dtype: string; data_offsets: [number, number] }) }));
    expect(entries.map((e) => e.name)).toEqual(['starts', 'acts.f32', 'ids', 'scalar', 'acts.f16']);
    let at = 0;
    const size: Record<string, number> = { F32: 4, F16: 2, I32: 4, I64: 8 };
    for (const e of entries) {
      expect(e.data_offsets[0]).toBe(at);
      expect((dataStart + at) % size[e.dtype]!).toBe(0);
      at = e.data_offsets[1];
    }
    expect(dataStart + at).toBe(file.length);
    expect(values('acts.f32')).toEqual([...f32]);
    expect(values('acts.f16')).toEqual([...f16]);
    expect(values('ids')).toEqual([...ids]);
    expect(values('starts')).toEqual([...starts]);
    expect(header['acts.f32']).toMatchObject({ dtype: 'F32', shape: [4, 2, 3] });
  });

  it('writes byte for byte what the reference layout writes, for tensors of one dtype', async () => {
    const a = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const b = Float32Array.from([7, 8]);
    const sink = memorySink();
    const writer = await SafetensorsWriter.create(
      sink,
      [
        { name: 'a', dtype: 'F32', shape: [3, 2] },
        { name: 'b', dtype: 'F32', shape: [2] },
      ],
      { metadata: { format: 'np' } },
    );
    await writer.writeRows('b', 0, b);
    await writer.writeRows('a', 1, a.subarray(2));
    await writer.writeRows('a', 0, a.subarray(0, 2));
    await writer.finish();
    expect(sink.bytes()).toEqual(
      writeSafetensors(
        {
          a: { dtype: 'F32', shape: [3, 2], bytes: bytesOf(a) },
          b: { dtype: 'F32', shape: [2], bytes: bytesOf(b) },
        },
        { format: 'np' },
      ),
    );
  });

  it('pads a header of multi-byte characters by its bytes, and omits empty metadata', async () => {
    for (const name of ['ä', 'äö', 'äöü', '激活']) {
      const sink = memorySink();
      const writer = await SafetensorsWriter.create(sink, [{ name, dtype: 'I32', shape: [1] }]);
      await writer.writeRows(name, 0, Int32Array.of(3));
      await writer.finish();
      const { length, header, values } = parseIndependently(sink.bytes());
      expect(length % 8).toBe(0);
      expect(Object.keys(header)).toEqual([name]);
      expect(values(name)).toEqual([3]);
    }
  });

  it('takes tensors without values, which need no writes', async () => {
    const sink = memorySink();
    const writer = await SafetensorsWriter.create(sink, [
      { name: 'none', dtype: 'F32', shape: [0, 4] },
      { name: 'hollow', dtype: 'F16', shape: [3, 0] },
    ]);
    await writer.writeRows('hollow', 0, new Uint16Array(0));
    await writer.finish();
    const { tensors } = await readSafetensorsHeader(bytesSource(sink.bytes()), 'x');
    expect(tensors.map((t) => [t.name, t.shape, t.byteLength])).toEqual([
      ['none', [0, 4], 0],
      ['hollow', [3, 0], 0],
    ]);
  });

  it('refuses to finish while rows are unwritten, naming them, and finishes once they are', async () => {
    const sink = memorySink();
    const writer = await SafetensorsWriter.create(sink, [
      { name: 'x', dtype: 'F32', shape: [10, 2] },
      { name: 'y', dtype: 'I64', shape: [2] },
    ]);
    await writer.writeRows('x', 0, new Float32Array(6)); // rows 0…2
    await writer.writeRows('x', 5, new Float32Array(2)); // row 5
    await writer.writeRows('x', 3, new Float32Array(2)); // row 3: 0…3 and 5 done
    const error = await writer.finish().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IncompleteSafetensorsError);
    expect((error as IncompleteSafetensorsError).missing).toEqual([
      {
        tensor: 'x',
        rows: [
          [4, 5],
          [6, 10],
        ],
      },
      { tensor: 'y', rows: [[0, 2]] },
    ]);
    expect((error as Error).message).toBe(
      'cannot finish the safetensors file: x rows 4, 6–9; y rows 0–1 were never written. ' +
        'Write every row with writeRows before finish(), or call abort() to discard the file',
    );
    expect(sink.state).toBe('open');
    await writer.writeRows('x', 4, new Float32Array(12));
    await writer.writeRows('y', 0, BigInt64Array.of(1n, 2n));
    expect(writer.missingRows()).toEqual([]);
    await writer.finish();
    expect(sink.state).toBe('closed');
  });

  it('refuses rows it cannot place, saying what it takes', async () => {
    const writer = await SafetensorsWriter.create(memorySink(), [
      { name: 'h', dtype: 'F16', shape: [4, 3] },
      { name: 'ids', dtype: 'I32', shape: [4] },
    ]);
    const refused = async (promise: Promise<unknown>, message: RegExp) => {
      const error = await promise.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SafetensorsWriteError);
      expect((error as Error).message).toMatch(message);
    };
    await refused(
      writer.writeRows('nope', 0, new Uint16Array(3)),
      /the file declares no tensor "nope"; it holds h, ids/,
    );
    await refused(
      writer.writeRows('h', 0, new Float32Array(3)),
      /tensor h is F16: give its rows as a Uint16Array of f16 bit patterns \(f32ArrayToF16Bits\), not a Float32Array/,
    );
    await refused(
      writer.writeRows('ids', 0, new Uint32Array(4) as unknown as Int32Array),
      /give its rows as a Int32Array, not a Uint32Array/,
    );
    await refused(
      writer.writeRows('h', 0, new Uint16Array(4)),
      /tensor h is F16\[4, 3\], rows of 3 values; 4 values are not whole rows/,
    );
    await refused(
      writer.writeRows('h', 3, new Uint16Array(6)),
      /rows 3…4 are not all among its rows 0…3/,
    );
    await refused(writer.writeRows('h', -1, new Uint16Array(3)), /rows -1…-1/);
    await refused(writer.writeRows('h', 0.5, new Uint16Array(3)), /rows 0\.5/);
  });

  it('refuses declarations the format cannot hold, before writing anything', async () => {
    const sink = memorySink();
    const refused = async (
      tensors: TensorDeclaration[],
      message: RegExp,
      metadata?: Record<string, string>,
    ) => {
      const error = await SafetensorsWriter.create(sink, tensors, { metadata }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SafetensorsWriteError);
      expect((error as Error).message).toMatch(message);
    };
    const t = (name: string, dtype = 'F32', shape: number[] = [1]) =>
      ({ name, dtype, shape }) as TensorDeclaration;
    await refused([t('a'), t('a')], /tensor a is declared twice/);
    await refused([t('__metadata__')], /pass metadata as \{ metadata \}/);
    await refused([t('')], /a tensor needs a name/);
    await refused([t('a', 'BF16')], /dtype BF16; the writer writes F32, F16, I32, I64/);
    await refused([t('a', 'F32', [2, -1])], /shape \[2,-1\]; a shape is a list of whole numbers/);
    await refused([t('a', 'F32', [2.5])], /a shape is a list of whole numbers/);
    await refused([t('a')], /metadata "n" is a number/, { n: 3 as unknown as string });
    expect(sink.bytes()).toEqual(new Uint8Array(0));
  });

  it('aborts the sink, after which it writes and finishes nothing', async () => {
    const sink = memorySink();
    const writer = await SafetensorsWriter.create(sink, [{ name: 'x', dtype: 'F32', shape: [2] }]);
    await writer.writeRows('x', 0, Float32Array.of(1, 2));
    await writer.abort();
    expect(sink.state).toBe('aborted');
    await expect(writer.writeRows('x', 0, Float32Array.of(1, 2))).rejects.toThrow(
      /cannot write x: the writer is aborted/,
    );
    await expect(writer.finish()).rejects.toThrow(SafetensorsWriteError);
    await writer.abort(); // a second time: nothing to do
  });

  it('passes on a failed write, leaving its rows unwritten, and a failed close for abort', async () => {
    const calls: string[] = [];
    let failWrites = false;
    let failClose = true;
    const inner = memorySink();
    const sink: RandomAccessSink = {
      write: async (position, bytes) => {
        if (failWrites) throw new Error('ENOSPC: no space left on device');
        return inner.write(position, bytes);
      },
      close: async () => {
        calls.push('close');
        if (failClose) throw new Error('EIO');
        return inner.close();
      },
      abort: async () => {
        calls.push('abort');
        return inner.abort();
      },
    };
    const writer = await SafetensorsWriter.create(sink, [{ name: 'x', dtype: 'I32', shape: [2] }]);
    failWrites = true;
    await expect(writer.writeRows('x', 0, Int32Array.of(1, 2))).rejects.toThrow(/ENOSPC/);
    expect(writer.missingRows()).toEqual([{ tensor: 'x', rows: [[0, 2]] }]);
    failWrites = false;
    await writer.writeRows('x', 0, Int32Array.of(1, 2));
    await expect(writer.finish()).rejects.toThrow(/EIO/);
    await writer.abort();
    expect(calls).toEqual(['close', 'abort']);
    failClose = false;
  });
});

describe('memorySink', () => {
  it('grows to the furthest byte written, with zeros in the gaps', async () => {
    const sink = memorySink();
    await sink.write(3000, Uint8Array.of(9));
    await sink.write(1, Uint8Array.of(1, 2));
    const bytes = sink.bytes();
    expect(bytes.length).toBe(3001);
    expect([...bytes.subarray(0, 4)]).toEqual([0, 1, 2, 0]);
    expect(bytes[3000]).toBe(9);
    await sink.close();
    await expect(sink.write(0, Uint8Array.of(1))).rejects.toThrow(/is closed/);
  });
});
