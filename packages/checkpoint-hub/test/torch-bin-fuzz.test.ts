/**
 * Seeded mutation fuzzing of the `.bin` reader: whatever the damage, it must either succeed with
 * entries inside the file or throw one of this package's errors — never a TypeError or a
 * RangeError, never hang. Mutations aim at the structures the reader parses: the end record,
 * the central directory, the local headers and data.pkl.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesSource } from '../src/byte-source.js';
import { CheckpointHubError } from '../src/errors.js';
import { DTYPE_BYTES } from '../src/tensor-entry.js';
import { readTorchCheckpoint } from '../src/torch-bin.js';
import { unpickle } from '../src/unpickle.js';
import { readZipDirectory, zipEntryDataOffset } from '../src/zip.js';
import {
  pickleStateDict,
  type StorageSpec,
  type TensorSpec,
  writeTorchZip,
} from './support/torch-zip-writer.js';

/** mulberry32: small, fast, seedable. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Region = [start: number, end: number];

/** One random mutation of `bytes` inside `region`; returns a new array (or a view for cuts). */
function mutate(
  bytes: Uint8Array,
  region: Region,
  rand: () => number,
): { bytes: Uint8Array; what: string } {
  const int = (n: number) => Math.floor(rand() * n);
  const [start, end] = region;
  const at = start + int(Math.max(1, end - start));
  switch (int(5)) {
    case 0: {
      const out = bytes.slice();
      const n = 1 + int(4);
      for (let i = 0; i < n; i++) {
        const p = Math.min(out.length - 1, start + int(Math.max(1, end - start)));
        out[p] = rand() < 0.5 ? (out[p] as number) ^ (1 << int(8)) : int(256);
      }
      return { bytes: out, what: `flip ${n} bytes in [${start}, ${end})` };
    }
    case 1: {
      // An "interesting" value over a 1-, 2- or 4-byte field: lengths, counts, offsets.
      const out = bytes.slice();
      const width = [1, 2, 4][int(3)] as number;
      const values = [
        0,
        1,
        0x7f,
        0x80,
        0xff,
        0xffff,
        0x7fffffff,
        0xffffffff,
        bytes.length,
        int(1 << 20),
      ];
      const value = values[int(values.length)] as number;
      const p = Math.min(at, out.length - width);
      for (let i = 0; i < width; i++) out[p + i] = Math.floor(value / 2 ** (8 * i)) & 0xff;
      return { bytes: out, what: `set ${width} bytes at ${p} to ${value}` };
    }
    case 2:
      return { bytes: bytes.subarray(0, at), what: `truncate at ${at}` };
    case 3: {
      const n = 1 + int(16);
      const out = new Uint8Array(bytes.length + n);
      out.set(bytes.subarray(0, at));
      for (let i = 0; i < n; i++) out[at + i] = int(256);
      out.set(bytes.subarray(at), at + n);
      return { bytes: out, what: `insert ${n} bytes at ${at}` };
    }
    default: {
      const n = 1 + int(16);
      const resume = Math.min(bytes.length, at + n);
      const out = new Uint8Array(at + bytes.length - resume);
      out.set(bytes.subarray(0, at));
      out.set(bytes.subarray(resume), at);
      return { bytes: out, what: `delete ${n} bytes at ${at}` };
    }
  }
}

/** Runs the reader; returns a description of a failure, or undefined when it behaved. */
async function check(bytes: Uint8Array): Promise<string | undefined> {
  try {
    const { tensors } = await readTorchCheckpoint(bytesSource(bytes), 'fuzz.bin');
    for (const t of tensors) {
      const numel = t.shape.reduce((a, b) => a * b, 1);
      if (t.byteLength !== numel * DTYPE_BYTES[t.dtype])
        return `${t.name}: byteLength ${t.byteLength}`;
      if (t.offset < 0 || t.offset + t.byteLength > bytes.length)
        return `${t.name} outside the file`;
    }
    return undefined;
  } catch (error) {
    if (error instanceof CheckpointHubError) return undefined;
    return `threw ${(error as Error)?.name}: ${(error as Error)?.message}`;
  }
}

/** The regions of a torch archive that the reader parses. */
async function regions(bytes: Uint8Array): Promise<Region[]> {
  const source = bytesSource(bytes);
  const directory = await readZipDirectory(source, 'x');
  const out: Region[] = [
    [bytes.length - 22, bytes.length],
    [directory.centralDirectoryOffset, bytes.length],
  ];
  for (const entry of directory.entries) {
    const data = await zipEntryDataOffset(source, 'x', entry, directory);
    out.push([entry.localHeaderOffset, data]);
    if (entry.name.endsWith('/data.pkl')) out.push([data, data + entry.size]);
  }
  return out;
}

async function fuzz(bytes: Uint8Array, runs: number, seed: number): Promise<string[]> {
  const rand = random(seed);
  const targets = await regions(bytes);
  const failures: string[] = [];
  for (let run = 0; run < runs; run++) {
    // Mostly the parsed structures, sometimes anywhere in the file.
    const region: Region =
      rand() < 0.9 ? (targets[Math.floor(rand() * targets.length)] as Region) : [0, bytes.length];
    // Sometimes stack two mutations.
    let { bytes: mutated, what } = mutate(bytes, region, rand);
    if (rand() < 0.2 && mutated.length > 0) {
      const second = mutate(mutated, [0, mutated.length], rand);
      mutated = second.bytes;
      what += `, then ${second.what}`;
    }
    const failure = await check(mutated);
    if (failure !== undefined) failures.push(`seed ${seed} run ${run} (${what}): ${failure}`);
  }
  return failures;
}

const storages: StorageSpec[] = [
  { key: '0', type: 'FloatStorage', bytes: new Uint8Array(48).map((_, i) => i) },
  { key: '1', type: 'HalfStorage', bytes: new Uint8Array(6).fill(0x3c) },
  { key: '2', type: 'BoolStorage', bytes: new Uint8Array([1, 0, 1, 1]) },
];
const tensors: TensorSpec[] = [
  { name: 'gpt_neox.embed_in.weight', storage: '0', shape: [3, 4] },
  {
    name: 'gpt_neox.layers.0.attention.dense.weight',
    storage: '0',
    shape: [2, 2],
    storageOffset: 8,
  },
  { name: 'gpt_neox.layers.0.attention.dense.bias', storage: '1', shape: [3], parameter: true },
  { name: 'gpt_neox.layers.0.attention.bias', storage: '2', shape: [1, 1, 2, 2] },
];

describe('the .bin reader under seeded random damage', () => {
  it('tiny-neox-bin: 1500 mutations, each read or a typed error', { timeout: 60_000 }, async () => {
    const bytes = new Uint8Array(
      readFileSync(new URL('../../../fixtures/tiny-neox-bin/pytorch_model.bin', import.meta.url)),
    );
    expect(await check(bytes)).toBeUndefined();
    expect(await fuzz(bytes, 1500, 1)).toEqual([]);
  });

  it('written archives (plain, ZIP64, odd prefix): 3 × 500 mutations', {
    timeout: 60_000,
  }, async () => {
    const variants = [
      writeTorchZip({ tensors, storages, metadata: true }),
      writeTorchZip({ tensors, storages, zip64: true }),
      writeTorchZip({ tensors, storages, prefix: 'pytorch_model', comment: new Uint8Array(40) }),
    ];
    const failures: string[] = [];
    for (const [i, bytes] of variants.entries()) {
      expect(await check(bytes)).toBeUndefined();
      failures.push(...(await fuzz(bytes, 500, 100 + i)));
    }
    expect(failures).toEqual([]);
  });

  it('data.pkl alone: 2000 mutations, re-wrapped in a valid archive', {
    timeout: 60_000,
  }, async () => {
    const pickle = pickleStateDict(tensors, storages, { metadata: true });
    const rand = random(7);
    const failures: string[] = [];
    for (let run = 0; run < 2000; run++) {
      const { bytes: mutated, what } = mutate(pickle, [0, pickle.length], rand);
      // The VM on its own: only typed errors.
      try {
        unpickle(mutated, 'fuzz.bin');
      } catch (error) {
        if (!(error instanceof CheckpointHubError))
          failures.push(`unpickle run ${run} (${what}): ${error}`);
      }
      const failure = await check(writeTorchZip({ tensors, storages, pickle: mutated }));
      if (failure !== undefined) failures.push(`archive run ${run} (${what}): ${failure}`);
    }
    expect(failures).toEqual([]);
  });
});
