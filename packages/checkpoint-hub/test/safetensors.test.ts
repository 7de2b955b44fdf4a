import { readFileSync } from 'node:fs';
import { writeSafetensors } from '@pythiajs/vitest-config/safetensors';
import { describe, expect, it } from 'vitest';
import {
  bytesSource,
  CorruptCheckpointError,
  parseShardIndex,
  pickWeightFiles,
  readSafetensorsHeader,
  readTensorBytes,
  tensorData,
  UnsupportedDtypeError,
} from '../src/index.js';

/** Little-endian bytes of a typed array. */
const bytesOf = (array: ArrayBufferView) =>
  new Uint8Array(array.buffer, array.byteOffset, array.byteLength);

const fixture = (path: string) =>
  new Uint8Array(readFileSync(new URL(`../../../fixtures/${path}`, import.meta.url)));

describe('readSafetensorsHeader on the fixture checkpoints', () => {
  it('lists the 2-layer f16 model with the shapes config.json implies', async () => {
    const { tensors } = await readSafetensorsHeader(
      bytesSource(fixture('tiny-neox-f16/model.safetensors')),
      'model.safetensors',
    );
    const byName = new Map(tensors.map((t) => [t.name, t]));
    expect(byName.get('gpt_neox.embed_in.weight')).toMatchObject({
      dtype: 'F16',
      shape: [50304, 32],
    });
    expect(byName.get('embed_out.weight')).toMatchObject({ dtype: 'F16', shape: [50304, 32] });
    expect(byName.get('gpt_neox.layers.1.attention.query_key_value.weight')).toMatchObject({
      shape: [96, 32],
    });
    expect(byName.get('gpt_neox.layers.0.mlp.dense_h_to_4h.weight')).toMatchObject({
      shape: [128, 32],
    });
    expect(byName.get('gpt_neox.final_layer_norm.bias')).toMatchObject({ shape: [32] });
    for (const t of tensors) expect(t.byteLength).toBe(t.shape.reduce((a, b) => a * b, 1) * 2);
  });

  it('reads the sharded f32 checkpoint: its index names a shard for each of its tensors', async () => {
    const index = parseShardIndex(
      readFileSync(
        new URL(
          '../../../fixtures/tiny-neox-f32-sharded/model.safetensors.index.json',
          import.meta.url,
        ),
        'utf8',
      ),
      'model.safetensors.index.json',
    );
    expect(index.shards).toEqual([
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
    ]);
    let total = 0;
    for (const shard of index.shards) {
      const { tensors } = await readSafetensorsHeader(
        bytesSource(fixture(`tiny-neox-f32-sharded/${shard}`)),
        shard,
      );
      for (const t of tensors) {
        expect(index.weightMap.get(t.name)).toBe(shard);
        expect(t.dtype).toBe('F32');
        total += t.byteLength;
      }
    }
    // 12 tensors per layer, embed_in, the final LayerNorm (2) and embed_out.
    expect([...index.weightMap.keys()]).toHaveLength(3 * 12 + 4);
    if (index.totalSize !== undefined) expect(total).toBe(index.totalSize);
  });
});

describe('safetensors round trip', () => {
  it('returns exactly the bytes and values that were written, for every dtype', async () => {
    const f32 = Float32Array.from([1.5, -2, 3.25, 0, 1e-8, 7]);
    const f16 = Uint16Array.from([0x3c00, 0xc000, 0x7bff]);
    const i64 = BigInt64Array.from([1n, -2n, 2n ** 40n]);
    const file = writeSafetensors(
      {
        'w.f32': { dtype: 'F32', shape: [2, 3], bytes: bytesOf(f32) },
        'w.f16': { dtype: 'F16', shape: [3], bytes: bytesOf(f16) },
        'w.bf16': {
          dtype: 'BF16',
          shape: [1, 3],
          bytes: bytesOf(Uint16Array.from([0x3f80, 0x4000, 0xbf80])),
        },
        'b.i64': { dtype: 'I64', shape: [3], bytes: bytesOf(i64) },
        'mask.bool': { dtype: 'BOOL', shape: [2, 2], bytes: Uint8Array.from([1, 0, 1, 1]) },
        scalar: { dtype: 'F32', shape: [], bytes: bytesOf(Float32Array.from([42])) },
      },
      { format: 'pt' },
    );
    const source = bytesSource(file);
    const { tensors, metadata } = await readSafetensorsHeader(source, 'x.safetensors');
    expect(metadata).toEqual({ format: 'pt' });
    const read = async (name: string) => {
      const entry = tensors.find((t) => t.name === name)!;
      return tensorData(entry.dtype, await readTensorBytes(source, entry));
    };
    expect(await read('w.f32')).toEqual(f32);
    expect(await read('w.f16')).toEqual(f16);
    expect(await read('w.bf16')).toEqual(Uint16Array.from([0x3f80, 0x4000, 0xbf80]));
    expect(await read('b.i64')).toEqual(i64);
    expect(await read('mask.bool')).toEqual(Uint8Array.from([1, 0, 1, 1]));
    expect(await read('scalar')).toEqual(Float32Array.from([42]));
  });
});

describe('a damaged safetensors file is refused with the reason', () => {
  const good = () =>
    writeSafetensors({
      a: { dtype: 'F32', shape: [2], bytes: bytesOf(Float32Array.from([1, 2])) },
      b: { dtype: 'F16', shape: [2], bytes: bytesOf(Uint16Array.from([1, 2])) },
    });
  const header = (file: Uint8Array) => {
    const length = Number(new DataView(file.buffer).getBigUint64(0, true));
    return JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + length)));
  };
  const withHeader = (json: unknown, data: Uint8Array) => {
    const head = new TextEncoder().encode(JSON.stringify(json));
    const out = new Uint8Array(8 + head.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
    out.set(head, 8);
    out.set(data, 8 + head.length);
    return out;
  };
  const data = () => {
    const file = good();
    const length = Number(new DataView(file.buffer).getBigUint64(0, true));
    return file.subarray(8 + length);
  };
  const refuse = async (
    file: Uint8Array,
    message: RegExp,
    type: new (...args: never[]) => Error = CorruptCheckpointError,
  ) => {
    const attempt = readSafetensorsHeader(bytesSource(file), 'model.safetensors');
    await expect(attempt).rejects.toThrow(type);
    await expect(attempt).rejects.toThrow(message);
  };

  it('a truncated download', () =>
    refuse(good().subarray(0, good().length - 3), /truncated download/));
  it('a header longer than the file', () => refuse(good().subarray(0, 20), /runs past the end/));
  it('fewer than 8 bytes', () => refuse(new Uint8Array(5), /shorter than the 8-byte/));
  it('a header that is not JSON', () =>
    refuse(withHeader('x', data()).fill(0x7b, 8, 12), /not valid UTF-8 JSON/));
  it('overlapping tensors', () => {
    const h = header(good());
    h.b.data_offsets = [4, 8];
    return refuse(withHeader(h, data().subarray(0, 8)), /overlaps/);
  });
  it('bytes that belong to no tensor', () => {
    const h = header(good());
    h.b.data_offsets = [10, 14];
    return refuse(withHeader(h, new Uint8Array(14)), /belong to no tensor/);
  });
  it('a shape that does not match the bytes', () => {
    const h = header(good());
    h.a.shape = [3];
    return refuse(withHeader(h, data()), /F32\[3\] = 12 bytes but spans 8/);
  });
  it('an unknown dtype', () => {
    const h = header(good());
    h.a.dtype = 'F8_E4M3';
    return refuse(withHeader(h, data()), /dtype F8_E4M3/, UnsupportedDtypeError);
  });
  it('the error says what to do', () =>
    refuse(good().subarray(0, 30), /Delete it and download it again/));
});

describe('pickWeightFiles', () => {
  it('prefers safetensors, then sharded safetensors, then .bin, as transformers does', () => {
    expect(pickWeightFiles(['config.json', 'pytorch_model.bin', 'model.safetensors'])).toEqual({
      format: 'safetensors',
      files: ['model.safetensors'],
    });
    expect(pickWeightFiles(['model.safetensors.index.json', 'pytorch_model.bin'])?.index).toBe(
      'model.safetensors.index.json',
    );
    expect(pickWeightFiles(['pytorch_model.bin', 'tokenizer.json'])).toEqual({
      format: 'bin',
      files: ['pytorch_model.bin'],
    });
    expect(pickWeightFiles(['pytorch_model.bin.index.json'])?.format).toBe('bin');
    expect(pickWeightFiles(['README.md'])).toBeUndefined();
  });

  it('refuses an index whose shard names leave the repo', () => {
    expect(() =>
      parseShardIndex('{"weight_map": {"a": "../../etc/passwd"}}', 'x.index.json'),
    ).toThrow(CorruptCheckpointError);
  });
});
