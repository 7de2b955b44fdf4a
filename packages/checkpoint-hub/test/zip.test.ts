import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesSource } from '../src/byte-source.js';
import { CorruptCheckpointError } from '../src/errors.js';
import { readZipDirectory, zipEntryDataOffset } from '../src/zip.js';
import { recording } from './support/recording-source.js';
import { writeZip } from './support/torch-zip-writer.js';

const FIXTURE = new URL('../../../fixtures/tiny-neox-bin/pytorch_model.bin', import.meta.url);
const fixture = new Uint8Array(readFileSync(FIXTURE));
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

async function contents(bytes: Uint8Array, name: string): Promise<Uint8Array> {
  const source = bytesSource(bytes);
  const directory = await readZipDirectory(source, 'test.zip');
  const entry = directory.entries.find((e) => e.name === name);
  if (entry === undefined) throw new Error(`no ${name}`);
  return source.read(await zipEntryDataOffset(source, 'test.zip', entry, directory), entry.size);
}

describe('readZipDirectory on a torch.save archive', () => {
  it('lists the 37 stored records of tiny-neox-bin, sizes and header offsets as written', async () => {
    const { entries, centralDirectoryOffset } = await readZipDirectory(
      bytesSource(fixture),
      'pytorch_model.bin',
    );
    expect(entries).toHaveLength(37);
    expect(entries.slice(0, 3)).toEqual([
      {
        name: 'pytorch_model/data.pkl',
        nameLength: 22,
        size: 3603,
        crc32: expect.any(Number),
        localHeaderOffset: 0,
      },
      {
        name: 'pytorch_model/byteorder',
        nameLength: 23,
        size: 6,
        crc32: expect.any(Number),
        localHeaderOffset: 3667,
      },
      {
        name: 'pytorch_model/data/0',
        nameLength: 20,
        size: 262144,
        crc32: expect.any(Number),
        localHeaderOffset: 3782,
      },
    ]);
    expect(entries.at(-1)).toMatchObject({
      name: 'pytorch_model/version',
      size: 2,
      localHeaderOffset: 861504,
    });
    // EOCD: 37 entries, a 2975-byte directory at 861570.
    expect(centralDirectoryOffset).toBe(861570);
  });

  it('finds data past the LOCAL extra field, which torch pads so that data is 64-byte aligned', async () => {
    const source = bytesSource(fixture);
    const directory = await readZipDirectory(source, 'pytorch_model.bin');
    const offsets = await Promise.all(
      directory.entries.map((e) => zipEntryDataOffset(source, 'pytorch_model.bin', e, directory)),
    );
    expect(offsets.every((o) => o % 64 === 0)).toBe(true);
    // data/0: local header at 3782 + 30 + 20-byte name + 8 bytes of 'FB' padding = 3840.
    expect(offsets[2]).toBe(3840);
    expect(text(await contents(fixture, 'pytorch_model/byteorder'))).toBe('little');
    expect(text(await contents(fixture, 'pytorch_model/version'))).toBe('3\n');
    // data.pkl is a protocol-2 pickle ending in STOP.
    const pkl = await contents(fixture, 'pytorch_model/data.pkl');
    expect([pkl[0], pkl[1], pkl.at(-1)]).toEqual([0x80, 2, 0x2e]);
  });

  it('reads only the tail, the central directory and the local headers asked for', async () => {
    const { source, reads } = recording(fixture);
    const directory = await readZipDirectory(source, 'pytorch_model.bin');
    expect(reads).toEqual([
      [fixture.length - 65557, 65557],
      [861570, 2975],
    ]);
    const entry = directory.entries[5]!;
    await zipEntryDataOffset(source, 'pytorch_model.bin', entry, directory);
    expect(reads[2]).toEqual([entry.localHeaderOffset, 30 + entry.nameLength]);
  });
});

describe('readZipDirectory on written archives', () => {
  const files = [
    { name: 'archive/data.pkl', data: new Uint8Array([0x80, 2, 0x2e]) },
    { name: 'archive/data/0', data: new Uint8Array(100).map((_, i) => i) },
    { name: 'archive/data/1', data: new Uint8Array(0) },
  ];

  it('round-trips stored entries, with data aligned as asked', async () => {
    const zip = writeZip(files, { align: 64 });
    expect([...(await contents(zip, 'archive/data/0'))]).toEqual([...files[1]!.data]);
    expect(await contents(zip, 'archive/data/1')).toHaveLength(0);
  });

  it('reads ZIP64 archives: sizes and offsets from the ZIP64 extra fields and end record', async () => {
    const zip = writeZip(files, { zip64: true });
    const { entries } = await readZipDirectory(bytesSource(zip), 'test.zip');
    expect(entries.map((e) => [e.name, e.size])).toEqual([
      ['archive/data.pkl', 3],
      ['archive/data/0', 100],
      ['archive/data/1', 0],
    ]);
    // The legacy end record holds only sentinels; the real values come from ZIP64.
    expect(new DataView(zip.buffer).getUint32(zip.length - 6, true)).toBe(0xffffffff);
    expect([...(await contents(zip, 'archive/data/0'))]).toEqual([...files[1]!.data]);
  });

  it('finds the end record behind an archive comment of up to 65535 bytes', async () => {
    for (const length of [1, 1000, 65535]) {
      const zip = writeZip(files, { comment: new Uint8Array(length).fill(0x41) });
      const { entries } = await readZipDirectory(bytesSource(zip), 'test.zip');
      expect(entries).toHaveLength(3);
      expect([...(await contents(zip, 'archive/data.pkl'))]).toEqual([0x80, 2, 0x2e]);
    }
  });

  it('rejects a compressed entry: torch.save writes stored entries', async () => {
    const zip = writeZip([files[0]!, { ...files[1]!, method: 8 }]);
    const read = readZipDirectory(bytesSource(zip), 'test.zip');
    await expect(read).rejects.toThrow(CorruptCheckpointError);
    await expect(read).rejects.toThrow(
      /archive\/data\/0 is compressed \(method 8\); torch.save writes stored/,
    );
  });

  it('rejects what is not a ZIP archive, or is cut short', async () => {
    await expect(readZipDirectory(bytesSource(new Uint8Array(10)), 'x')).rejects.toThrow(
      /too short for a ZIP archive/,
    );
    await expect(readZipDirectory(bytesSource(new Uint8Array(5000)), 'x')).rejects.toThrow(
      /no ZIP end-of-central-directory record/,
    );
    const zip = writeZip(files);
    // Cut inside the central directory: the end record is gone.
    await expect(
      readZipDirectory(bytesSource(zip.subarray(0, zip.length - 30)), 'x'),
    ).rejects.toThrow(CorruptCheckpointError);
  });

  it('rejects a central directory that points outside the file', async () => {
    const zip = writeZip(files).slice();
    const view = new DataView(zip.buffer);
    view.setUint32(zip.length - 6, zip.length, true); // directory offset past the end
    await expect(readZipDirectory(bytesSource(zip), 'x')).rejects.toThrow(
      /runs past its end record/,
    );
  });

  it('rejects an entry whose local header offset runs into the central directory', async () => {
    const zip = writeZip(files).slice();
    const view = new DataView(zip.buffer);
    const cdOffset = view.getUint32(zip.length - 6, true);
    view.setUint32(cdOffset + 42, cdOffset - 10, true); // first record's local header offset
    await expect(readZipDirectory(bytesSource(zip), 'x')).rejects.toThrow(
      /runs into the central directory/,
    );
  });

  it('rejects a local header that names another entry', async () => {
    const zip = writeZip(files).slice();
    zip[30 + 'archive/'.length] = 0x44; // 'data.pkl' → 'Data.pkl' in the local header only
    const source = bytesSource(zip);
    const directory = await readZipDirectory(source, 'x');
    await expect(zipEntryDataOffset(source, 'x', directory.entries[0]!, directory)).rejects.toThrow(
      /does not name archive\/data.pkl/,
    );
  });
});
