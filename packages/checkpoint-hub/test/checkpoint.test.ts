import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bytesSource,
  type CheckpointProgress,
  CorruptCheckpointError,
  EntryNotFoundError,
  findDuplicateCheckpoints,
  HubClient,
  NotCachedError,
  openCheckpoint,
  PartlyCachedError,
  RemoteStore,
  TensorMismatchError,
} from '../src/index.js';
import { NodeHubCache } from '../src/node/index.js';
import { type FakeCommit, FakeHub } from '../src/testing/index.js';
import { readZipDirectory, zipEntryDataOffset } from '../src/zip.js';

const fixtureDir = new URL('../../../fixtures/', import.meta.url);
const fixture = (folder: string, files: string[]): FakeCommit =>
  Object.fromEntries(
    files.map((f) => [f, new Uint8Array(readFileSync(new URL(`${folder}/${f}`, fixtureDir)))]),
  );
const commit = (n: number) => String(n).repeat(40).slice(0, 40);

const sharded = readdirSync(new URL('tiny-neox-f32-sharded/', fixtureDir));
const hub = new FakeHub({
  'test/tiny-neox-f16': {
    branches: { main: commit(1) },
    commits: { [commit(1)]: fixture('tiny-neox-f16', ['config.json', 'model.safetensors']) },
  },
  'test/tiny-neox-bin': {
    branches: { main: commit(2) },
    commits: { [commit(2)]: fixture('tiny-neox-bin', ['config.json', 'pytorch_model.bin']) },
  },
  'test/tiny-neox-sharded': {
    // Two branches of one model: one serves the sharded safetensors, the other the sharded .bin.
    branches: { safetensors: commit(3), bin: commit(4) },
    commits: {
      [commit(3)]: fixture('tiny-neox-f32-sharded', [
        'config.json',
        ...sharded.filter((f) => f.includes('safetensors')),
      ]),
      [commit(4)]: fixture('tiny-neox-f32-sharded', [
        'config.json',
        ...sharded.filter((f) => f.includes('pytorch_model')),
      ]),
    },
  },
  // One good checkpoint whose config.json (or shard index) was damaged in the cache or by hand.
  'test/tiny-neox-damaged': {
    branches: { truncated: commit(5), array: commit(6), 'bad-index': commit(7) },
    commits: {
      [commit(5)]: {
        ...fixture('tiny-neox-f16', ['model.safetensors']),
        'config.json': '{"model_type": "gpt_neox", "hidden_si',
      },
      [commit(6)]: { ...fixture('tiny-neox-f16', ['model.safetensors']), 'config.json': '[1, 2]' },
      [commit(7)]: {
        ...fixture('tiny-neox-f32-sharded', [
          'config.json',
          ...sharded.filter((f) => f.endsWith('.safetensors')),
        ]),
        'model.safetensors.index.json': '<html>404</html>',
      },
    },
  },
});

let client: HubClient;
beforeAll(async () => {
  await hub.start();
  hub.pageSize = 100;
  client = new HubClient({ endpoint: hub.hubOrigin, retries: 1, retryDelayMs: 1 });
});
afterAll(() => hub.stop());

const cache = () => new NodeHubCache({ dir: mkdtempSync(join(tmpdir(), 'hf-ckpt-')), client });

describe('openCheckpoint', () => {
  it('opens a safetensors checkpoint through the cache, with progress totals known up front', async () => {
    const events: CheckpointProgress[] = [];
    const checkpoint = await openCheckpoint('test/tiny-neox-f16', 'main', cache(), {
      onProgress: (p) => events.push(p),
    });
    expect(checkpoint.format).toBe('safetensors');
    expect(checkpoint.commit).toBe(commit(1));
    expect((checkpoint.config as { hidden_size: number }).hidden_size).toBe(32);
    expect(checkpoint.expect('gpt_neox.embed_in.weight', [50304, 32]).dtype).toBe('F16');
    const total = events[0]!.total;
    expect(events.every((e) => e.total === total)).toBe(true);
    expect(events.at(-1)!.loaded).toBe(total);
    const file = readFileSync(new URL('tiny-neox-f16/model.safetensors', fixtureDir));
    expect(total).toBe(
      file.length + readFileSync(new URL('tiny-neox-f16/config.json', fixtureDir)).length,
    );
    const entry = checkpoint.tensors.get('gpt_neox.final_layer_norm.weight')!;
    expect(await checkpoint.read(entry.name)).toEqual(
      new Uint8Array(file.subarray(entry.offset, entry.offset + entry.byteLength)),
    );
    await checkpoint.close();
  });

  it('opens a .bin checkpoint and leaves out its legacy buffers', async () => {
    const checkpoint = await openCheckpoint('test/tiny-neox-bin', 'main', cache());
    expect(checkpoint.format).toBe('bin');
    expect(checkpoint.skipped.sort()).toEqual([
      'gpt_neox.layers.0.attention.bias',
      'gpt_neox.layers.0.attention.masked_bias',
      'gpt_neox.layers.0.attention.rotary_emb.inv_freq',
      'gpt_neox.layers.1.attention.bias',
      'gpt_neox.layers.1.attention.masked_bias',
      'gpt_neox.layers.1.attention.rotary_emb.inv_freq',
    ]);
    expect(
      checkpoint.expect('gpt_neox.layers.1.attention.query_key_value.weight', [192, 64]).dtype,
    ).toBe('F16');
    expect(
      [...checkpoint.tensors.keys()].some(
        (n) => n.includes('attention.bias') && !n.includes('query'),
      ),
    ).toBe(false);
    await checkpoint.close();
  });

  it('reads the same tensors from sharded safetensors and sharded .bin of one model', async () => {
    const store = cache();
    const a = await openCheckpoint('test/tiny-neox-sharded', 'safetensors', store);
    const b = await openCheckpoint('test/tiny-neox-sharded', 'bin', store);
    expect(a.format).toBe('safetensors');
    expect(b.format).toBe('bin');
    expect([...a.tensors.keys()].sort()).toEqual([...b.tensors.keys()].sort());
    expect(a.tensors.size).toBe(40);
    for (const name of a.tensors.keys()) expect(await b.read(name)).toEqual(await a.read(name));
    await Promise.all([a.close(), b.close()]);
  });

  it('reads a byte range of a tensor where it lies, in safetensors and .bin alike', async () => {
    const store = cache();
    const a = await openCheckpoint('test/tiny-neox-sharded', 'safetensors', store);
    const b = await openCheckpoint('test/tiny-neox-sharded', 'bin', store);
    const name = 'gpt_neox.layers.1.attention.query_key_value.weight';
    const whole = await a.read(name);
    // Rows 3 … 9 of the matrix, as a loader streaming it a piece at a time asks for them.
    const rowBytes = a.tensors.get(name)!.shape[1]! * 2;
    const range = { offset: 3 * rowBytes, length: 7 * rowBytes };
    const expected = whole.subarray(range.offset, range.offset + range.length);
    expect(await a.read(name, undefined, range)).toEqual(expected);
    expect(await b.read(name, undefined, range)).toEqual(expected);
    const into = new Uint8Array(range.length + 8);
    expect(await a.read(name, into, range)).toEqual(expected);
    expect(into.subarray(0, range.length)).toEqual(expected);
    expect(await a.read(name, undefined, { offset: whole.length, length: 0 })).toEqual(
      new Uint8Array(0),
    );
    await expect(a.read(name, undefined, { offset: 8, length: whole.length })).rejects.toThrow(
      `cannot read bytes [8, ${8 + whole.length}) of ${name}: it holds ${whole.length} bytes`,
    );
    await expect(a.read(name, undefined, { offset: 1.5, length: 2 })).rejects.toThrow(RangeError);
    await Promise.all([a.close(), b.close()]);
  });

  it('reads only the needed ranges from the Hub without a cache: legacy buffers cost no bytes', async () => {
    const file = new Uint8Array(
      readFileSync(new URL('tiny-neox-bin/pytorch_model.bin', fixtureDir)),
    );
    // The two causal masks (bool [1, 1, 256, 256]) are the archive's only 65 536-byte records.
    const directory = await readZipDirectory(bytesSource(file), 'pytorch_model.bin');
    const masks = await Promise.all(
      directory.entries
        .filter((e) => e.size === 65_536)
        .map(async (e) => {
          const start = await zipEntryDataOffset(
            bytesSource(file),
            'pytorch_model.bin',
            e,
            directory,
          );
          return [start, start + e.size] as const;
        }),
    );
    expect(masks).toHaveLength(2);

    hub.requests.length = 0;
    const store = new RemoteStore(client);
    const checkpoint = await openCheckpoint('test/tiny-neox-bin', 'main', store);
    let tensorBytes = 0;
    for (const name of checkpoint.tensors.keys())
      tensorBytes += (await checkpoint.read(name)).length;
    const fetched = hub.requests
      .filter((r) => r.origin === 'cdn' && r.url.includes('pytorch_model.bin'))
      .map(
        (r) =>
          /bytes=(\d+)-(\d+)/
            .exec(r.range ?? '')!
            .slice(1)
            .map(Number) as [number, number],
      );
    expect(fetched.length).toBeGreaterThan(10);
    const overlapping = fetched.filter(([first, last]) =>
      masks.some(([s, e]) => first < e && last >= s),
    );
    expect(overlapping).toEqual([]);
    expect(tensorBytes).toBeLessThan(file.length - 2 * 65_536);
  });

  it('names the tensor whose shape does not match config.json', async () => {
    const checkpoint = await openCheckpoint('test/tiny-neox-f16', 'main', cache());
    expect(() => checkpoint.expect('gpt_neox.embed_in.weight', [50304, 64])).toThrow(
      TensorMismatchError,
    );
    expect(() => checkpoint.expect('gpt_neox.embed_in.weight', [50304, 64])).toThrow(
      /shape \[50304, 32\] but config.json implies \[50304, 64\]/,
    );
    expect(() =>
      checkpoint.expect('gpt_neox.layers.9.mlp.dense_4h_to_h.weight', [32, 128]),
    ).toThrow(/has no tensor/);
    await checkpoint.close();
  });
});

describe('openCheckpoint of a damaged config.json or shard index', () => {
  const failure = (revision: string) =>
    openCheckpoint('test/tiny-neox-damaged', revision, cache()).then(
      () => expect.unreachable('it opened'),
      (error: unknown) => error as CorruptCheckpointError,
    );

  it('names config.json, the repo and the revision when it is not JSON, and says what to do', async () => {
    const error = await failure('truncated');
    expect(error).toBeInstanceOf(CorruptCheckpointError);
    expect(error.file).toBe('config.json of test/tiny-neox-damaged@truncated');
    expect(error.message).toMatch(
      /^config\.json of test\/tiny-neox-damaged@truncated is corrupt or truncated: it is not valid JSON \(.+\)\. Delete it and download it again\.$/,
    );
  });

  it('refuses a config.json that is JSON but not an object', async () => {
    const error = await failure('array');
    expect(error).toBeInstanceOf(CorruptCheckpointError);
    expect(error.message).toBe(
      'config.json of test/tiny-neox-damaged@array is corrupt or truncated: it is JSON but an array, ' +
        'not the object of a model config. Delete it and download it again.',
    );
  });

  it('names the shard index the same way', async () => {
    const error = await failure('bad-index');
    expect(error).toBeInstanceOf(CorruptCheckpointError);
    expect(error.file).toBe('model.safetensors.index.json of test/tiny-neox-damaged@bad-index');
    expect(error.message).toMatch(/is corrupt or truncated: not valid JSON/);
  });
});

describe('openCheckpoint offline, of a checkpoint the cache holds only part of', () => {
  const REPO = 'test/tiny-neox-sharded';

  it('says the revision is only partly cached, counting its files, and what to run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hf-partial-'));
    // An interrupted download: the config, the index and the first of two shards.
    const online = new NodeHubCache({ dir, client, offline: false });
    for (const path of [
      'config.json',
      'model.safetensors.index.json',
      'model-00001-of-00002.safetensors',
    ])
      await online.file(REPO, 'safetensors', path);

    const offline = new NodeHubCache({ dir, client, offline: true });
    const error = await openCheckpoint(REPO, 'safetensors', offline).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartlyCachedError);
    expect(error).toBeInstanceOf(NotCachedError);
    expect(error).toMatchObject({
      repo: REPO,
      revision: 'safetensors',
      missing: ['model-00002-of-00002.safetensors'],
    });
    expect((error as Error).message).toBe(
      `${REPO}@safetensors is only partly cached (3 of 4 files: missing ` +
        'model-00002-of-00002.safetensors); download it first ' +
        `(pythia download ${REPO} --revision safetensors) or unset HF_HUB_OFFLINE`,
    );
  });

  it('says so too when the weights are missing altogether', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hf-partial-'));
    await new NodeHubCache({ dir, client, offline: false }).file(
      'test/tiny-neox-f16',
      'main',
      'config.json',
    );
    const offline = new NodeHubCache({ dir, client, offline: true });
    await expect(openCheckpoint('test/tiny-neox-f16', 'main', offline)).rejects.toThrow(
      'test/tiny-neox-f16@main is only partly cached (1 of 2 files: missing model.safetensors or ' +
        'pytorch_model.bin)',
    );
  });

  it('online, a file missing from the listing is one the revision lacks', async () => {
    const online = {
      resolve: async () => commit(5),
      files: async () => [{ path: 'model.safetensors', size: 1, oid: '' }],
      open: () => Promise.reject(new Error('nothing is opened')),
    };
    await expect(openCheckpoint('test/tiny-neox-damaged', 'truncated', online)).rejects.toThrow(
      new EntryNotFoundError('test/tiny-neox-damaged', 'truncated', 'config.json'),
    );
  });
});

describe('findDuplicateCheckpoints', () => {
  const shardA = Uint8Array.from([1, 2, 3]);
  const shardB = Uint8Array.from([4, 5, 6]);
  const other = Uint8Array.from([7, 8, 9]);
  const dupes = new FakeHub({
    'EleutherAI/pythia-dup': {
      branches: {
        step1000: commit(5),
        step2000: commit(6),
        step3000: commit(7),
        step4000: commit(8),
        main: commit(6),
      },
      commits: {
        [commit(5)]: {
          'model-00001-of-00002.safetensors': other,
          'model-00002-of-00002.safetensors': shardB,
        },
        [commit(6)]: {
          'model-00001-of-00002.safetensors': shardA,
          'model-00002-of-00002.safetensors': shardB,
          'config.json': '{}',
        },
        [commit(7)]: {
          'model-00001-of-00002.safetensors': shardA,
          'model-00002-of-00002.safetensors': shardB,
          'config.json': '{"x":1}',
        },
        [commit(8)]: {
          'model-00001-of-00002.safetensors': shardA,
          'model-00002-of-00002.safetensors': other,
        },
      },
    },
  });
  beforeAll(() => dupes.start());
  afterAll(() => dupes.stop());

  it('groups revisions with identical weights and reports shards shared otherwise, from listings only', async () => {
    const hubClient = new HubClient({ endpoint: dupes.hubOrigin });
    const result = await findDuplicateCheckpoints(hubClient, 'EleutherAI/pythia-dup', [
      'step1000',
      'step2000',
      'step3000',
      'step4000',
      'main',
    ]);
    expect(result.identical).toEqual([['step2000', 'step3000', 'main']]);
    // Same content counts whatever the file is called: step1000's first shard is step4000's second.
    expect(result.sharedFiles.map((f) => f.revisions)).toEqual([
      ['step1000', 'step4000'],
      ['step1000', 'step2000', 'step3000', 'main'],
      ['step2000', 'step3000', 'step4000', 'main'],
    ]);
    expect(dupes.requests.every((r) => r.url.startsWith('/api/'))).toBe(true);
  });
});

describe('LocalFolderStore', () => {
  it('opens a checkpoint folder on disk like a Hub revision', async () => {
    const { LocalFolderStore } = await import('../src/node/index.js');
    const folder = new URL('tiny-neox-f32-sharded', fixtureDir).pathname;
    const checkpoint = await openCheckpoint(folder, 'local', new LocalFolderStore());
    expect(checkpoint.format).toBe('safetensors');
    expect(checkpoint.tensors.size).toBe(40);
    expect(checkpoint.expect('gpt_neox.layers.2.mlp.dense_4h_to_h.weight', [96, 384]).dtype).toBe(
      'F32',
    );
    await checkpoint.close();
    await expect(
      openCheckpoint('/nonexistent/folder', 'local', new LocalFolderStore()),
    ).rejects.toThrow(/is not a folder/);
  });
});
