// Stores of files computed from checkpoints (quantized weights): a file is visible only once its
// sink is closed, an aborted write leaves nothing, and a key cannot reach outside the store.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { type DerivedFileStore, memoryDerivedStore } from '../src/index.js';
import { defaultDerivedDir, nodeDerivedStore } from '../src/node/index.js';

const dir = mkdtempSync(join(tmpdir(), 'derived-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const stores: Array<[string, () => DerivedFileStore]> = [
  ['nodeDerivedStore', () => nodeDerivedStore(mkdtempSync(join(dir, 'store-')))],
  ['memoryDerivedStore', () => memoryDerivedStore()],
];

for (const [name, make] of stores) {
  describe(name, () => {
    it('a file written at positions in any order reads back once closed, and not before', async () => {
      const store = make();
      const key = 'quantized/v1/EleutherAI/pythia-70m/abc/q4.safetensors';
      const sink = await store.create(key);
      await Promise.all([
        sink.write(4, Uint8Array.of(5, 6)),
        sink.write(0, Uint8Array.of(1, 2, 3, 4)),
      ]);
      expect(await store.open(key)).toBeUndefined();
      await sink.close();
      const source = (await store.open(key))!;
      expect(source.size).toBe(6);
      expect(Array.from(await source.read(1, 4))).toEqual([2, 3, 4, 5]);
      await source.close?.();
      await store.delete(key);
      expect(await store.open(key)).toBeUndefined();
      await store.delete(key); // deleting nothing is fine
    });

    it('an aborted write leaves nothing, and a file already there survives it', async () => {
      const store = make();
      const sink = await store.create('a/b');
      await sink.write(0, Uint8Array.of(9));
      await sink.close();
      const again = await store.create('a/b');
      await again.write(0, Uint8Array.of(1, 2, 3));
      await again.abort();
      const source = (await store.open('a/b'))!;
      expect(Array.from(await source.read(0, source.size))).toEqual([9]);
      await source.close?.();
    });

    it('refuses keys with empty, "." or ".." parts', async () => {
      const store = make();
      for (const key of ['../x', 'a/../../x', 'a//b', './a', '']) {
        await expect(store.create(key)).rejects.toThrow(/cannot have empty/);
        await expect(store.open(key)).rejects.toThrow(/cannot have empty/);
      }
    });
  });
}

describe('nodeDerivedStore on disk', () => {
  it('writes <file>.partial and renames it on close; abort removes it', async () => {
    const root = mkdtempSync(join(dir, 'disk-'));
    const store = nodeDerivedStore(root);
    const sink = await store.create('x/y.bin');
    await sink.write(0, Uint8Array.of(1));
    expect(readdirSync(join(root, 'x'))).toEqual(['y.bin.partial']);
    await sink.close();
    expect(readdirSync(join(root, 'x'))).toEqual(['y.bin']);
    const aborted = await store.create('x/z.bin');
    await aborted.write(0, Uint8Array.of(1));
    await aborted.abort();
    expect(readdirSync(join(root, 'x'))).toEqual(['y.bin']);
    expect(existsSync(join(root, 'x', 'z.bin'))).toBe(false);
  });

  it('lives under PYTHIAJS_CACHE, else $XDG_CACHE_HOME/pythiajs, else ~/.cache/pythiajs', () => {
    vi.stubEnv('PYTHIAJS_CACHE', '/scratch/pj');
    vi.stubEnv('XDG_CACHE_HOME', '/xdg');
    expect(defaultDerivedDir()).toBe('/scratch/pj');
    vi.stubEnv('PYTHIAJS_CACHE', '');
    expect(defaultDerivedDir()).toBe(join('/xdg', 'pythiajs'));
    vi.stubEnv('XDG_CACHE_HOME', '');
    expect(defaultDerivedDir()).toBe(join(homedir(), '.cache', 'pythiajs'));
    vi.unstubAllEnvs();
  });
});
