import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  readSafetensorsHeader,
  readTensorBytes,
  SafetensorsWriter,
  tensorData,
} from '../src/index.js';
import { fileSink, fileSource } from '../src/node/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'file-sink-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fileSink', () => {
  it('writes blocks at their positions into <path>.partial, and renames it into place on close', async () => {
    const path = join(dir, 'out.bin');
    const sink = await fileSink(path);
    expect(sink.partialPath).toBe(`${path}.partial`);
    await Promise.all([
      sink.write(6, Uint8Array.of(7, 8)),
      sink.write(0, Uint8Array.of(1, 2, 3)),
      sink.write(3, Uint8Array.of(4, 5, 6)),
    ]);
    expect(existsSync(path)).toBe(false);
    expect([...readFileSync(sink.partialPath)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await sink.close();
    expect([...readFileSync(path)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(readdirSync(dir)).toEqual(['out.bin']);
    await sink.close(); // a second time: nothing to do
    await sink.abort(); // after a close: the file is complete and stays
    expect(existsSync(path)).toBe(true);
    await expect(sink.write(0, Uint8Array.of(1))).rejects.toThrow(/the file sink is closed/);
  });

  it('replaces an existing file only at a successful close', async () => {
    const path = join(dir, 'acts.safetensors');
    writeFileSync(path, 'earlier run');
    const sink = await fileSink(path);
    await sink.write(0, new TextEncoder().encode('this run'));
    expect(readFileSync(path, 'utf8')).toBe('earlier run');
    await sink.close();
    expect(readFileSync(path, 'utf8')).toBe('this run');
  });

  it('removes the partial file on abort, leaving an existing file as it was', async () => {
    const path = join(dir, 'acts.safetensors');
    writeFileSync(path, 'earlier run');
    const sink = await fileSink(path);
    await sink.write(100, Uint8Array.of(1));
    await sink.abort();
    expect(readdirSync(dir)).toEqual(['acts.safetensors']);
    expect(readFileSync(path, 'utf8')).toBe('earlier run');
    await sink.abort(); // a second time: nothing to do
    await expect(sink.close()).rejects.toThrow(/the file sink is aborted/);
    await expect(sink.write(0, Uint8Array.of(1))).rejects.toThrow(/aborted/);
  });

  it('overwrites a .partial left by an earlier process', async () => {
    const path = join(dir, 'x.bin');
    writeFileSync(`${path}.partial`, 'left over from a crash, longer than what follows');
    const sink = await fileSink(path);
    await sink.write(0, Uint8Array.of(1, 2));
    await sink.close();
    expect([...readFileSync(path)]).toEqual([1, 2]);
  });

  it("rejects a path in a folder that does not exist with Node's error", async () => {
    await expect(fileSink(join(dir, 'no', 'such', 'x.bin'))).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });

  it('refuses a position that is not a byte offset', async () => {
    const sink = await fileSink(join(dir, 'x.bin'));
    await expect(sink.write(-1, Uint8Array.of(1))).rejects.toThrow(RangeError);
    await sink.abort();
  });

  it('carries a safetensors file written a block at a time to disk, readable as any other', async () => {
    const path = join(dir, 'acts.safetensors');
    const writer = await SafetensorsWriter.create(
      await fileSink(path),
      [
        { name: 'acts', dtype: 'F32', shape: [1000, 64] },
        { name: 'input_ids', dtype: 'I32', shape: [1000] },
      ],
      { metadata: { model: 'test' } },
    );
    const acts = Float32Array.from({ length: 1000 * 64 }, (_, i) => Math.sin(i));
    for (let row = 0; row < 1000; row += 128) {
      const end = Math.min(1000, row + 128);
      await writer.writeRows('acts', row, acts.subarray(row * 64, end * 64));
      await writer.writeRows(
        'input_ids',
        row,
        Int32Array.from({ length: end - row }, (_, i) => row + i),
      );
    }
    await writer.finish();
    const source = await fileSource(path);
    try {
      const { tensors, metadata } = await readSafetensorsHeader(source, path);
      expect(metadata).toEqual({ model: 'test' });
      const entry = tensors.find((t) => t.name === 'acts')!;
      expect(tensorData(entry.dtype, await readTensorBytes(source, entry))).toEqual(acts);
      const ids = tensors.find((t) => t.name === 'input_ids')!;
      expect(tensorData(ids.dtype, await readTensorBytes(source, ids))).toEqual(
        Int32Array.from({ length: 1000 }, (_, i) => i),
      );
    } finally {
      await source.close();
    }
  });
});
