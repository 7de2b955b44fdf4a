import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { blobSource, bytesSource } from '../src/byte-source.js';
import {
  CorruptCheckpointError,
  ForbiddenPickleGlobalError,
  UnsupportedTorchCheckpointError,
} from '../src/errors.js';
import type { TensorDtype, TensorEntry } from '../src/tensor-entry.js';
import { readTorchCheckpoint } from '../src/torch-bin.js';
import { readZipDirectory, zipEntryDataOffset } from '../src/zip.js';
import { recording } from './support/recording-source.js';
import {
  pickleStateDict,
  type StorageSpec,
  type TensorSpec,
  type TorchZipOptions,
  writeTorchZip,
  writeZip,
} from './support/torch-zip-writer.js';

const fixtures = new URL('../../../fixtures/', import.meta.url);
const load = (path: string) => new Uint8Array(readFileSync(new URL(path, fixtures)));
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('readTorchCheckpoint on tiny-neox-bin (torch.save, f16, with legacy buffers)', () => {
  const bytes = load('tiny-neox-bin/pytorch_model.bin');
  const config = JSON.parse(new TextDecoder().decode(load('tiny-neox-bin/config.json')));

  /** Every weight of a GPT-NeoX model and its shape, as its config implies, in state-dict order. */
  function expectedWeights(): Array<[string, number[]]> {
    const h: number = config.hidden_size;
    const ff: number = config.intermediate_size;
    const v: number = config.vocab_size;
    const out: Array<[string, number[]]> = [['gpt_neox.embed_in.weight', [v, h]]];
    for (let l = 0; l < config.num_hidden_layers; l++) {
      const p = `gpt_neox.layers.${l}.`;
      out.push(
        [`${p}input_layernorm.weight`, [h]],
        [`${p}input_layernorm.bias`, [h]],
        [`${p}post_attention_layernorm.weight`, [h]],
        [`${p}post_attention_layernorm.bias`, [h]],
        [`${p}attention.query_key_value.weight`, [3 * h, h]],
        [`${p}attention.query_key_value.bias`, [3 * h]],
        [`${p}attention.dense.weight`, [h, h]],
        [`${p}attention.dense.bias`, [h]],
        [`${p}mlp.dense_h_to_4h.weight`, [ff, h]],
        [`${p}mlp.dense_h_to_4h.bias`, [ff]],
        [`${p}mlp.dense_4h_to_h.weight`, [h, ff]],
        [`${p}mlp.dense_4h_to_h.bias`, [h]],
      );
    }
    out.push(['gpt_neox.final_layer_norm.weight', [h]], ['gpt_neox.final_layer_norm.bias', [h]]);
    out.push(['embed_out.weight', [v, h]]);
    return out;
  }

  it('lists every weight with the shape its config implies, all F16', async () => {
    const { tensors, prefix } = await readTorchCheckpoint(bytesSource(bytes), 'pytorch_model.bin');
    expect(prefix).toBe('pytorch_model');
    expect(tensors.map((t) => [t.name, t.shape])).toEqual(expectedWeights());
    expect(tensors).toHaveLength(28);
    expect(expectedWeights()[4]).toEqual(['gpt_neox.layers.0.post_attention_layernorm.bias', [64]]);
    expect(
      tensors.find((t) => t.name.endsWith('0.attention.query_key_value.weight'))?.shape,
    ).toEqual([192, 64]);
    expect(tensors.find((t) => t.name.endsWith('0.mlp.dense_h_to_4h.weight'))?.shape).toEqual([
      256, 64,
    ]);
    for (const t of tensors) {
      expect(t.dtype).toBe('F16');
      expect(t.byteLength).toBe(t.shape.reduce((a, b) => a * b, 1) * 2);
      expect(t.offset % 64).toBe(0); // torch aligns each storage record to 64 bytes
      expect(t.offset + t.byteLength).toBeLessThanOrEqual(bytes.length);
    }
  });

  it('skips the legacy buffers of both layers', async () => {
    const { skipped } = await readTorchCheckpoint(bytesSource(bytes), 'pytorch_model.bin');
    expect(skipped).toEqual(
      [0, 1].flatMap((l) => [
        `gpt_neox.layers.${l}.attention.bias`,
        `gpt_neox.layers.${l}.attention.masked_bias`,
        `gpt_neox.layers.${l}.attention.rotary_emb.inv_freq`,
      ]),
    );
  });

  it('points at the right bytes (hashes taken with Python zipfile/pickle)', async () => {
    const source = bytesSource(bytes);
    const { tensors } = await readTorchCheckpoint(source, 'pytorch_model.bin');
    const get = async (name: string) => {
      const t = tensors.find((e) => e.name === name)!;
      return source.read(t.offset, t.byteLength);
    };
    expect(sha256(await get('gpt_neox.embed_in.weight'))).toBe(
      'c8a3f5bd6ef50f6a626ff517d69b9d682ab020bd35e1529354e011c97ccc6316',
    );
    expect(sha256(await get('gpt_neox.layers.1.attention.query_key_value.weight'))).toBe(
      '90979808bfb76953ffc2f7e2122807fe26f43e853fcb6854d5c5902429d3688c',
    );
    expect(sha256(await get('embed_out.weight'))).toBe(
      'e12bde3ba05547ffa5e7b2c19891d101ea4816b17f2b5633f48f45718b1f8059',
    );
    const bias = await get('gpt_neox.final_layer_norm.bias');
    expect(sha256(bias)).toBe('49987405affae46b3e7e9afb576e60d0ecde3f5a51f901b3a4f05cc937bc7b3e');
    expect([0, 1, 2, 3].map((i) => f16(bias, i))).toEqual([
      -0.2359619140625, 0.0994873046875, 0.141357421875, 0.03704833984375,
    ]);
  });

  it('never reads a skipped buffer (not even its local header), nor any weight', async () => {
    const { source, reads } = recording(bytes);
    await readTorchCheckpoint(source, 'pytorch_model.bin');
    const plain = bytesSource(bytes);
    const directory = await readZipDirectory(plain, 'x');
    const skippedKeys = ['5', '6', '7', '20', '21', '22'];
    for (const key of skippedKeys) {
      const entry = directory.entries.find((e) => e.name === `pytorch_model/data/${key}`)!;
      const start = entry.localHeaderOffset;
      const end = (await zipEntryDataOffset(plain, 'x', entry, directory)) + entry.size;
      for (const [offset, length] of reads) {
        expect(
          offset + length <= start || offset >= end,
          `read [${offset}, +${length}) of ${key}`,
        ).toBe(true);
      }
    }
    // The 64 KiB tail, the directory, byteorder's header and 6 bytes, data.pkl's header and
    // 3603 bytes, then one local header (30 bytes + name) per storage in use: 28 of them.
    expect(reads.slice(0, 6).map(([, length]) => length)).toEqual([65557, 2975, 53, 6, 52, 3603]);
    expect(reads.slice(6)).toHaveLength(28);
    expect(reads.slice(6).every(([, length]) => length >= 50 && length <= 52)).toBe(true);
  });

  it('reads the same through a Blob', async () => {
    const fromBlob = await readTorchCheckpoint(blobSource(new Blob([bytes])), 'pytorch_model.bin');
    const fromBytes = await readTorchCheckpoint(bytesSource(bytes), 'pytorch_model.bin');
    expect(fromBlob).toEqual(fromBytes);
  });
});

describe('readTorchCheckpoint on tiny-neox-f32-sharded: byte-identical to the safetensors twin', () => {
  /** The header of a safetensors file, parsed here independently of the package's reader. */
  function safetensors(
    bytes: Uint8Array,
  ): Map<string, { dtype: string; shape: number[]; data: Uint8Array }> {
    const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
    const out = new Map<string, { dtype: string; shape: number[]; data: Uint8Array }>();
    for (const [name, info] of Object.entries<{
      dtype: string;
      shape: number[];
      data_offsets: [number, number];
    }>(header)) {
      if (name === '__metadata__') continue;
      const [begin, end] = info.data_offsets;
      out.set(name, {
        dtype: info.dtype,
        shape: info.shape,
        data: bytes.subarray(8 + length + begin, 8 + length + end),
      });
    }
    return out;
  }

  for (const shard of ['00001', '00002']) {
    it(`shard ${shard}: same names, dtypes, shapes and bytes`, async () => {
      const bin = load(`tiny-neox-f32-sharded/pytorch_model-${shard}-of-00002.bin`);
      const twin = safetensors(load(`tiny-neox-f32-sharded/model-${shard}-of-00002.safetensors`));
      const source = bytesSource(bin);
      const { tensors, skipped, prefix } = await readTorchCheckpoint(source, 'shard.bin');
      expect(prefix).toBe(`pytorch_model-${shard}-of-00002`);
      expect(skipped).toEqual([]);
      expect(tensors.map((t) => t.name).sort()).toEqual([...twin.keys()].sort());
      expect(tensors.length).toBeGreaterThan(10);
      for (const t of tensors) {
        const expected = twin.get(t.name)!;
        expect([t.dtype, t.shape]).toEqual([expected.dtype, expected.shape]);
        const actual = await source.read(t.offset, t.byteLength);
        expect(Buffer.from(actual).equals(Buffer.from(expected.data)), t.name).toBe(true);
      }
    });
  }
});

describe('readTorchCheckpoint on written archives', () => {
  /** Bytes of typed values, little-endian. */
  const f32 = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
  const u16 = (...v: number[]) => new Uint8Array(Uint16Array.from(v).buffer);
  const i64 = (...v: bigint[]) => new Uint8Array(BigInt64Array.from(v).buffer);

  const storages: StorageSpec[] = [
    { key: '0', type: 'FloatStorage', bytes: f32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11) },
    { key: '1', type: 'HalfStorage', bytes: u16(0x3c00, 0xc000, 0x7bff) }, // 1, -2, 65504
    { key: '2', type: 'BFloat16Storage', bytes: u16(0x3f80, 0x4049) }, // 1, 3.140625
    { key: '3', type: 'LongStorage', bytes: i64(-1n, 2n ** 40n) },
    { key: '4', type: 'BoolStorage', bytes: new Uint8Array([1, 0, 0, 1]) },
  ];
  const tensors: TensorSpec[] = [
    { name: 'f32.all', storage: '0', shape: [3, 4] },
    // Two views of the same storage, one starting 5 elements in.
    { name: 'f32.view', storage: '0', shape: [2, 3], storageOffset: 5 },
    { name: 'f16', storage: '1', shape: [3], parameter: true },
    { name: 'bf16', storage: '2', shape: [1, 2], stride: [7, 1] }, // stride of a size-1 dim is free
    { name: 'i64', storage: '3', shape: [2] },
    { name: 'bool', storage: '4', shape: [2, 2] },
    { name: 'scalar', storage: '0', shape: [], storageOffset: 11 },
    { name: 'empty', storage: '0', shape: [0, 4] },
  ];

  async function read(options: TorchZipOptions, file = 'written.bin') {
    const bytes = writeTorchZip(options);
    const source = bytesSource(bytes);
    const checkpoint = await readTorchCheckpoint(source, file);
    const data = async (name: string) => {
      const t = checkpoint.tensors.find((e) => e.name === name)!;
      return source.read(t.offset, t.byteLength);
    };
    return { ...checkpoint, data };
  }
  const summary = (t: TensorEntry): [string, TensorDtype, number[], number] => [
    t.name,
    t.dtype,
    t.shape,
    t.byteLength,
  ];

  it('round-trips f32, f16, bf16, i64 and bool tensors, views and shared storages', async () => {
    const { tensors: entries, data, prefix } = await read({ tensors, storages, metadata: true });
    expect(prefix).toBe('archive');
    expect(entries.map(summary)).toEqual([
      ['f32.all', 'F32', [3, 4], 48],
      ['f32.view', 'F32', [2, 3], 24],
      ['f16', 'F16', [3], 6],
      ['bf16', 'BF16', [1, 2], 4],
      ['i64', 'I64', [2], 16],
      ['bool', 'BOOL', [2, 2], 4],
      ['scalar', 'F32', [], 4],
      ['empty', 'F32', [0, 4], 0],
    ]);
    const all = entries[0]!;
    const view = entries[1]!;
    expect(view.offset - all.offset).toBe(5 * 4); // same record, 5 elements in
    expect([...new Float32Array((await data('f32.view')).slice().buffer)]).toEqual([
      5, 6, 7, 8, 9, 10,
    ]);
    expect([...new Uint16Array((await data('f16')).slice().buffer)]).toEqual([
      0x3c00, 0xc000, 0x7bff,
    ]);
    expect([...new Uint16Array((await data('bf16')).slice().buffer)]).toEqual([0x3f80, 0x4049]);
    expect([...new BigInt64Array((await data('i64')).slice().buffer)]).toEqual([-1n, 2n ** 40n]);
    expect([...(await data('bool'))]).toEqual([1, 0, 0, 1]);
    expect([...new Float32Array((await data('scalar')).slice().buffer)]).toEqual([11]);
  });

  it('reads ZIP64 archives the same', async () => {
    const plain = await read({ tensors, storages });
    const zip64 = await read({ tensors, storages, zip64: true });
    expect(zip64.tensors.map(summary)).toEqual(plain.tensors.map(summary));
    expect([...(await zip64.data('f32.view'))]).toEqual([...(await plain.data('f32.view'))]);
  });

  it('accepts any archive folder name, and an archive comment', async () => {
    for (const prefix of ['archive', 'pytorch_model', 'pythia-70m step3000', 'модель']) {
      const result = await read({
        tensors,
        storages,
        prefix,
        comment: new TextEncoder().encode('hi'),
      });
      expect(result.prefix).toBe(prefix);
      expect([...(await result.data('bool'))]).toEqual([1, 0, 0, 1]);
    }
  });

  it('accepts archives without a byteorder record (torch < 1.10)', async () => {
    const { tensors: entries } = await read({ tensors, storages, byteorder: null });
    expect(entries).toHaveLength(8);
  });

  it('rejects a non-contiguous view, saying so', async () => {
    const transposed = [{ name: 'w.T', storage: '0', shape: [4, 3], stride: [1, 4] }];
    const read_ = read({ tensors: transposed, storages });
    await expect(read_).rejects.toThrow(UnsupportedTorchCheckpointError);
    await expect(read_).rejects.toThrow(
      /tensor w.T is a non-contiguous view of its storage \(shape \[4, 3\], stride \[1, 4\]\)/,
    );
  });

  it('refuses a pickle that asks for posix.system, executing nothing', async () => {
    // cposix\nsystem\n(X…'touch pwned'…tR.  — what a malicious pytorch_model.bin carries.
    const command = new TextEncoder().encode('touch /tmp/pythiajs-pwned');
    const pickle = Uint8Array.from([
      0x80,
      2,
      0x63,
      ...new TextEncoder().encode('posix\nsystem\n'),
      0x28,
      0x58,
      command.length,
      0,
      0,
      0,
      ...command,
      0x74,
      0x52,
      0x2e,
    ]);
    const read_ = read({ tensors: [], storages: [], pickle }, 'evil.bin');
    await expect(read_).rejects.toThrow(ForbiddenPickleGlobalError);
    await expect(read_).rejects.toMatchObject({ file: 'evil.bin', global: 'posix.system' });
  });

  it('rejects a compressed storage record', async () => {
    const read_ = read({ tensors, storages, compress: ['data/0'] });
    await expect(read_).rejects.toThrow(CorruptCheckpointError);
    await expect(read_).rejects.toThrow(/archive\/data\/0 is compressed.*torch.save writes stored/);
  });

  it('rejects a big-endian checkpoint, and the legacy non-ZIP format', async () => {
    await expect(read({ tensors, storages, byteorder: 'big' })).rejects.toThrow(
      /saved on a big-endian machine/,
    );
    await expect(read({ tensors, storages, byteorder: 'middle' })).rejects.toThrow(
      CorruptCheckpointError,
    );
    const legacy = new Uint8Array(200).fill(0x20);
    legacy.set([0x80, 2, 0x8a, 0x0a]); // torch < 1.6: magic number pickled first
    await expect(readTorchCheckpoint(bytesSource(legacy), 'old.bin')).rejects.toThrow(
      UnsupportedTorchCheckpointError,
    );
  });

  it('rejects views outside their storage, missing records and mismatched record sizes', async () => {
    const past = [{ name: 'past', storage: '0', shape: [3], storageOffset: 10 }];
    await expect(read({ tensors: past, storages })).rejects.toThrow(
      /tensor past needs elements \[10, 13\) of storage 0, which has 12/,
    );
    const one = [{ name: 'm', storage: '9', shape: [1] }];
    const record: StorageSpec = { key: '9', type: 'FloatStorage', bytes: f32(1) };
    // The persistent id claims 2 elements; the record holds one.
    await expect(read({ tensors: one, storages: [{ ...record, numel: 2 }] })).rejects.toThrow(
      /record archive\/data\/9 holds 4 bytes, not 2 × 4/,
    );
    // A pickle naming a storage record that the archive lacks.
    const pickle = pickleStateDict(one, [record]);
    await expect(read({ tensors: [], storages, pickle })).rejects.toThrow(
      /storage record archive\/data\/9 is missing/,
    );
  });

  it('rejects an archive without data.pkl', async () => {
    const zip = writeZip([{ name: 'archive/version', data: new Uint8Array([0x33]) }]);
    await expect(readTorchCheckpoint(bytesSource(zip), 'x.bin')).rejects.toThrow(
      /no <folder>\/data.pkl/,
    );
  });
});

/** An IEEE half-precision value from little-endian bytes. */
function f16(bytes: Uint8Array, index: number): number {
  const bits = (bytes[2 * index] as number) | ((bytes[2 * index + 1] as number) << 8);
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}
