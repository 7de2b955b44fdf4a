// The cache of quantized matrices (`quantizedCache` of NeoXModel.load): a second load of the same
// commit in the same format uploads the kept matrices without reading or quantizing the
// checkpoint's, and gives the same model bit for bit; a file that does not match is rewritten;
// keeping the file never fails a load, and nothing half-written is left.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Checkpoint,
  type DerivedFileStore,
  memoryDerivedStore,
  openCheckpoint,
} from '@pythiajs/checkpoint-hub';
import { LocalFolderStore, nodeDerivedStore } from '@pythiajs/checkpoint-hub/node';
import { createDevice, type Device } from '@pythiajs/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type LoadProgress,
  NeoXModel,
  parseNeoXConfig,
  type QuantizedCacheEvent,
  quantizedCacheKey,
  randomCheckpoint,
} from '../src/index.js';
import { fixtureFolder, TIED_CONFIG } from './golden.js';
import { servePythia70m } from './local-hub.js';

const COMMIT = 'a'.repeat(40);
const IDS = [5, 17, 200, 2, 45, 9];
const BLOCK_MATRICES = /(query_key_value|attention\.dense|dense_h_to_4h|dense_4h_to_h)\.weight$/;

let device: Device;
beforeAll(async () => {
  device = await createDevice();
});
afterAll(() => device?.destroy());

/** A fixture as if it were Hub revision `commit`, counting the tensors read from it. */
async function fixture(name: string, commit = COMMIT): Promise<Checkpoint & { reads: string[] }> {
  const inner = await openCheckpoint(fixtureFolder(name), 'local', new LocalFolderStore());
  const reads: string[] = [];
  return {
    ...inner,
    repo: `test/${name}`,
    commit,
    reads,
    read: (tensor, into, range) => {
      reads.push(tensor);
      return inner.read(tensor, into, range);
    },
  };
}

/** Loads `checkpoint` with the cache in `store`, returning the model, its logits and the events. */
async function load(
  checkpoint: Checkpoint,
  dtype: 'q8' | 'q4',
  store: DerivedFileStore,
  options: { allowNonFinite?: boolean } = {},
) {
  const events: QuantizedCacheEvent[] = [];
  const model = await NeoXModel.fromCheckpoint(checkpoint, {
    device,
    dtype,
    quantizedCache: store,
    ...options,
    onProgress: (p: LoadProgress) => {
      if (p.phase === 'quantized-cache') events.push(p);
    },
  });
  const logits = await model.forward(IDS);
  model.dispose();
  return { logits, events };
}

describe('a second load of the same commit and format reads the kept quantized matrices', () => {
  for (const name of ['tiny-neox-f16', 'tiny-neox-f32-sharded']) {
    for (const dtype of ['q8', 'q4'] as const) {
      it(`${name} at ${dtype}: no block matrix or embed_out is read from the checkpoint, and the logits are identical`, async () => {
        const store = memoryDerivedStore();
        const first = await fixture(name);
        const written = await load(first, dtype, store);
        const key = `quantized/v1/test/${name}/${COMMIT}/${dtype}.safetensors`;
        expect(written.events).toEqual([{ phase: 'quantized-cache', action: 'written', key }]);
        expect(store.keys()).toEqual([key]);
        expect(quantizedCacheKey(first, dtype)).toBe(key);
        expect(first.reads.some((t) => BLOCK_MATRICES.test(t))).toBe(true);

        const second = await fixture(name);
        const cached = await load(second, dtype, store);
        expect(cached.events).toEqual([{ phase: 'quantized-cache', action: 'read', key }]);
        expect(
          second.reads.filter((t) => BLOCK_MATRICES.test(t) || t === 'embed_out.weight'),
        ).toEqual([]);
        // Only embed_in and the vectors.
        expect(second.reads).toContain('gpt_neox.embed_in.weight');
        expect(cached.logits).toEqual(written.logits);

        // The same as a load without the cache.
        const plain = await NeoXModel.fromCheckpoint(await fixture(name), { device, dtype });
        expect(await plain.forward(IDS)).toEqual(written.logits);
        plain.dispose();
      });
    }
  }

  it('tied embeddings: embed_out, the quantized copy of embed_in, is kept and read too', async () => {
    const config = parseNeoXConfig(TIED_CONFIG);
    const tied = () => ({ ...randomCheckpoint(config, { seed: 3 }), commit: COMMIT });
    const store = memoryDerivedStore();
    const first = await load(tied(), 'q4', store);
    const second = await load(tied(), 'q4', store);
    expect([...first.events, ...second.events].map((e) => e.action)).toEqual(['written', 'read']);
    expect(second.logits).toEqual(first.logits);
  });

  it('keeps one file per commit and format, and none for a checkpoint without a commit (a local folder)', async () => {
    const store = memoryDerivedStore();
    await load(await fixture('tiny-neox-bin'), 'q8', store);
    await load(await fixture('tiny-neox-bin'), 'q4', store);
    await load(await fixture('tiny-neox-bin', 'b'.repeat(40)), 'q4', store);
    const local = await load(await fixture('tiny-neox-bin', 'local'), 'q4', store);
    expect(local.events).toEqual([]);
    expect(store.keys().sort()).toEqual([
      `quantized/v1/test/tiny-neox-bin/${COMMIT}/q4.safetensors`,
      `quantized/v1/test/tiny-neox-bin/${COMMIT}/q8.safetensors`,
      `quantized/v1/test/tiny-neox-bin/${'b'.repeat(40)}/q4.safetensors`,
    ]);
  });
});

describe('a file that does not match is rewritten, never trusted', () => {
  const key = `quantized/v1/test/tiny-neox-f16/${COMMIT}/q4.safetensors`;
  let expected: Float32Array;
  let good: Uint8Array;
  beforeAll(async () => {
    const store = memoryDerivedStore();
    expected = (await load(await fixture('tiny-neox-f16'), 'q4', store)).logits;
    const source = (await store.open(key))!;
    good = await source.read(0, source.size);
  });

  /** A store holding `bytes` under `key`. */
  async function storeWith(bytes: Uint8Array) {
    const store = memoryDerivedStore();
    const sink = await store.create(key);
    await sink.write(0, bytes);
    await sink.close();
    return store;
  }

  const cases: Array<[string, () => Uint8Array, QuantizedCacheEvent['action'][]]> = [
    [
      'bytes that are no safetensors file',
      () => new TextEncoder().encode('not a file'),
      ['written'],
    ],
    // The header says where the tensors lie; a file cut short fails its header check or its reads.
    ['a file cut short', () => good.subarray(0, good.length - 100), ['written']],
  ];
  for (const [what, bytes, actions] of cases) {
    it(`${what}: the load quantizes the checkpoint again and replaces the file`, async () => {
      const store = await storeWith(bytes());
      const result = await load(await fixture('tiny-neox-f16'), 'q4', store);
      expect(result.events.map((e) => e.action)).toEqual(actions);
      expect(result.logits).toEqual(expected);
      const source = (await store.open(key))!;
      expect(await source.read(0, source.size)).toEqual(good);
    });
  }

  it('a q8 file under the q4 key (its metadata says q8) is replaced', async () => {
    const q8Store = memoryDerivedStore();
    await load(await fixture('tiny-neox-f16'), 'q8', q8Store);
    const q8Key = key.replace('q4.safetensors', 'q8.safetensors');
    const source = (await q8Store.open(q8Key))!;
    const store = await storeWith(await source.read(0, source.size));
    const result = await load(await fixture('tiny-neox-f16'), 'q4', store);
    expect(result.events.map((e) => e.action)).toEqual(['written']);
    expect(result.logits).toEqual(expected);
  });

  it('a read that fails after the header check: the file is deleted and the load quantizes again', async () => {
    const inner = await storeWith(good);
    // The header reads fine; the first read of tensor rows fails.
    const store: DerivedFileStore = {
      ...inner,
      open: async (k) => {
        const source = await inner.open(k);
        if (!source) return undefined;
        let reads = 0;
        return {
          size: source.size,
          read: (offset, length, into) =>
            ++reads > 2
              ? Promise.reject(new Error('EIO: i/o error'))
              : source.read(offset, length, into),
        };
      },
    };
    const result = await load(await fixture('tiny-neox-f16'), 'q4', store);
    expect(result.events.map((e) => e.action)).toEqual(['read-failed', 'written']);
    expect(result.events[0]!.message).toMatch(/EIO/);
    expect(result.logits).toEqual(expected);
  });
});

describe('keeping the file never fails a load', () => {
  it('a write that fails (a full disk) is reported; the model loads and no file is left', async () => {
    const inner = memoryDerivedStore();
    const store: DerivedFileStore = {
      ...inner,
      create: async (k) => {
        const sink = await inner.create(k);
        let writes = 0;
        return {
          ...sink,
          write: (position, bytes) =>
            ++writes > 3
              ? Promise.reject(new Error('ENOSPC: no space left on device'))
              : sink.write(position, bytes),
        };
      },
    };
    const plain = await NeoXModel.fromCheckpoint(await fixture('tiny-neox-bin'), {
      device,
      dtype: 'q8',
    });
    const result = await load(await fixture('tiny-neox-bin'), 'q8', store);
    expect(result.events.map((e) => [e.action, e.message])).toEqual([
      ['write-failed', expect.stringMatching(/ENOSPC/)],
    ]);
    expect(result.logits).toEqual(await plain.forward(IDS));
    plain.dispose();
    expect(inner.keys()).toEqual([]);
  });

  it('a load that allows non-finite weights is not kept (a later checked load would trust it)', async () => {
    const store = memoryDerivedStore();
    const result = await load(await fixture('tiny-neox-bin'), 'q4', store, {
      allowNonFinite: true,
    });
    expect(result.events).toEqual([]);
    expect(store.keys()).toEqual([]);
  });
});

describe('NeoXModel.load with quantizedCache: true, in Node', () => {
  let served: Awaited<ReturnType<typeof servePythia70m>>;
  let dir: string;
  const saved: Record<string, string | undefined> = {};
  beforeAll(async () => {
    served = await servePythia70m();
    dir = mkdtempSync(join(tmpdir(), 'pythiajs-derived-'));
    for (const [name, value] of Object.entries({ ...served.env, PYTHIAJS_CACHE: dir })) {
      saved[name] = process.env[name];
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  afterAll(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await served?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the file under PYTHIAJS_CACHE by commit, and the second load reads it', async () => {
    const actions: string[] = [];
    const loadIt = async () => {
      const model = await NeoXModel.load('EleutherAI/pythia-70m-deduped@step3000', {
        device,
        dtype: 'q4',
        quantizedCache: true,
        onProgress: (p) => {
          if (p.phase === 'quantized-cache') actions.push(p.action);
        },
      });
      const logits = await model.forward(IDS);
      model.dispose();
      return logits;
    };
    const first = await loadIt();
    const second = await loadIt();
    expect(actions).toEqual(['written', 'read']);
    expect(second).toEqual(first);
    const folder = join(dir, 'quantized', 'v1', 'EleutherAI', 'pythia-70m-deduped', '3'.repeat(40));
    expect(readdirSync(folder)).toEqual(['q4.safetensors']);
    // The same store, named explicitly.
    const again = await NeoXModel.load('EleutherAI/pythia-70m-deduped@step3000', {
      device,
      dtype: 'q4',
      quantizedCache: nodeDerivedStore(dir),
      onProgress: (p) => {
        if (p.phase === 'quantized-cache') actions.push(p.action);
      },
    });
    again.dispose();
    expect(actions.at(-1)).toBe('read');
  });
});
