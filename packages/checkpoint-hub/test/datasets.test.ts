import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BrowserHubCache,
  EntryNotFoundError,
  HubClient,
  IncompleteListingError,
  IntegrityError,
  isRevisionName,
  listParquetFiles,
  memoryStorage,
  NotCachedError,
  PARQUET_REVISION,
  ParquetSplitNotFoundError,
  pickParquetFiles,
  RemoteStore,
  type RepoFile,
  RepoNotFoundError,
  type RepoType,
  RevisionNotFoundError,
  UnsafeHubValueError,
} from '../src/index.js';
import { NodeHubCache, repoFolderName } from '../src/node/index.js';
import { FakeHub, gitBlobId, sha256Hex } from '../src/testing/index.js';

// A dataset as the Hub serves one for lm-evaluation-harness: its own files on `main`, and the
// Parquet conversion on `refs/convert/parquet` (two configs; `default/test` in two shards).
const DATASET = 'EleutherAI/lambada_openai';
const MAIN = 'd'.repeat(40);
const PARQUET = 'e'.repeat(40);
const shard0 = Uint8Array.from({ length: 40_000 }, (_, i) => (i * 13 + 7) % 256);
const shard1 = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 17 + 3) % 256);
const german = Uint8Array.from({ length: 5_000 }, (_, i) => (i * 5) % 256);
const readme = '# lambada_openai';
const parquetFiles = {
  'default/test/0000.parquet': shard0,
  'default/test/0001.parquet': shard1,
  'de/test/0000.parquet': german,
  'README.md': '# converted',
};
// A model of the same name: a dataset and a model are different repositories.
const MODEL_COMMIT = 'f'.repeat(40);
const modelConfig = '{"model": true}';

const hub = new FakeHub(
  {
    [DATASET]: {
      branches: { main: MODEL_COMMIT },
      commits: { [MODEL_COMMIT]: { 'config.json': modelConfig } },
    },
  },
  {
    datasets: {
      [DATASET]: {
        branches: { main: MAIN, [PARQUET_REVISION]: PARQUET },
        commits: {
          [MAIN]: { 'README.md': readme, 'lambada_test.jsonl': '{"text": "x"}\n' },
          [PARQUET]: parquetFiles,
        },
      },
      'owner/unconverted': {
        branches: { main: MAIN },
        commits: { [MAIN]: { 'README.md': readme } },
      },
    },
  },
);
const folder = 'datasets--EleutherAI--lambada_openai';
const dataset = { repoType: 'dataset' } as const;
let dir: string;
const client = () => new HubClient({ endpoint: hub.hubOrigin, retries: 2, retryDelayMs: 1 });
const unreachable = () => new HubClient({ endpoint: 'http://127.0.0.1:9', retries: 0 });
const paths = (files: RepoFile[]) => files.map((f) => f.path).sort();

beforeAll(() => hub.start());
afterAll(() => hub.stop());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hf-datasets-'));
  hub.requests.length = 0;
  hub.faults.length = 0;
  hub.tampered.clear();
  hub.pageSize = 3;
});

describe('HubClient with datasets', () => {
  it("builds a dataset's URLs, the convert revision as one encoded part", () => {
    const hubClient = new HubClient({ endpoint: 'https://huggingface.co' });
    expect(hubClient.fileUrl(DATASET, PARQUET_REVISION, 'default/test/0000.parquet', dataset)).toBe(
      'https://huggingface.co/datasets/EleutherAI/lambada_openai/resolve/refs%2Fconvert%2Fparquet/default/test/0000.parquet',
    );
    // Models keep their URLs, with or without the option.
    expect(hubClient.fileUrl('EleutherAI/pythia-70m', 'step3000', 'config.json')).toBe(
      'https://huggingface.co/EleutherAI/pythia-70m/resolve/step3000/config.json',
    );
    expect(
      hubClient.fileUrl('EleutherAI/pythia-70m', 'main', 'config.json', { repoType: 'model' }),
    ).toBe('https://huggingface.co/EleutherAI/pythia-70m/resolve/main/config.json');
  });

  it('resolves the Parquet branch and lists it at /api/datasets/…/tree/refs%2Fconvert%2Fparquet', async () => {
    const hubClient = client();
    const { commit, files } = await hubClient.revision(DATASET, PARQUET_REVISION, dataset);
    expect(commit).toBe(PARQUET);
    expect(files.sort()).toEqual(Object.keys(parquetFiles).sort());
    const listed = await hubClient.listFiles(DATASET, PARQUET_REVISION, dataset);
    expect(paths(listed)).toEqual(Object.keys(parquetFiles).sort());
    // Parquet files are LFS files: their sha256 is listed, and checked.
    expect(listed.find((f) => f.path === 'default/test/0000.parquet')).toEqual({
      path: 'default/test/0000.parquet',
      size: shard0.length,
      oid: gitBlobId(shard0),
      lfs: { sha256: sha256Hex(shard0), size: shard0.length },
    });
    const urls = hub.requests.map((r) => r.url);
    expect(urls[0]).toBe(`/api/datasets/${DATASET}/revision/refs%2Fconvert%2Fparquet`);
    expect(urls[1]).toBe(`/api/datasets/${DATASET}/tree/refs%2Fconvert%2Fparquet?recursive=true`);
    // Four files, three a page: the second page's link is followed.
    expect(urls).toHaveLength(3);
  });

  it('lists one folder of a revision, and checks it against the files the revision names there', async () => {
    const hubClient = client();
    await hubClient.revision(DATASET, PARQUET, dataset);
    hub.pageSize = 1;
    const listed = await hubClient.listFiles(DATASET, PARQUET, {
      ...dataset,
      path: 'default/test',
    });
    expect(paths(listed)).toEqual(['default/test/0000.parquet', 'default/test/0001.parquet']);
    expect(hub.requests.at(-2)?.url).toBe(
      `/api/datasets/${DATASET}/tree/${PARQUET}/default/test?recursive=true`,
    );
    // A listing that drops the folder's next page is incomplete, not a shorter split.
    hub.faults.push({ match: '/tree/', headers: { Link: '' }, times: 1 });
    await expect(
      hubClient.listFiles(DATASET, PARQUET, { ...dataset, path: 'default/test' }),
    ).rejects.toThrow(IncompleteListingError);
    await expect(
      hubClient.listFiles(DATASET, PARQUET, { ...dataset, path: '../x' }),
    ).rejects.toThrow(UnsafeHubValueError);
  });

  it('reads ranges and downloads dataset files, through the CDN for LFS files', async () => {
    const store = new RemoteStore(client());
    const source = await store.open(
      DATASET,
      PARQUET_REVISION,
      'default/test/0001.parquet',
      dataset,
    );
    expect(source.size).toBe(shard1.length);
    expect(await source.read(100, 50)).toEqual(shard1.subarray(100, 150));
    expect(hub.requests.some((r) => r.origin === 'cdn' && r.range === 'bytes=100-149')).toBe(true);
    expect(
      hub.requests.some((r) =>
        r.url.startsWith(
          `/datasets/${DATASET}/resolve/refs%2Fconvert%2Fparquet/default/test/0001.parquet`,
        ),
      ),
    ).toBe(true);
  });

  it('lists the branches of a dataset, the conversion apart', async () => {
    expect(await client().refs(DATASET, dataset)).toEqual([{ name: 'main', commit: MAIN }]);
    expect(await client().refs(DATASET)).toEqual([{ name: 'main', commit: MODEL_COMMIT }]);
  });

  it('says which kind of repository is missing, and that a dataset was not converted', async () => {
    const missing = await client()
      .revision('owner/nope', 'main', dataset)
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(RepoNotFoundError);
    expect((missing as RepoNotFoundError).repoType).toBe('dataset');
    expect((missing as Error).message).toMatch(/^the Hub has no dataset owner\/nope/);
    await expect(client().revision('owner/unconverted', PARQUET_REVISION, dataset)).rejects.toThrow(
      /dataset owner\/unconverted has no revision refs\/convert\/parquet: the Hub has not converted it to Parquet/,
    );
    await expect(
      client().listFiles('owner/unconverted', 'main', { ...dataset, path: 'data' }),
    ).rejects.toThrow(RepoNotFoundError);
    const entry = await new RemoteStore(client())
      .open(DATASET, 'main', 'nope.parquet', dataset)
      .catch((e: unknown) => e);
    expect(entry).toBeInstanceOf(EntryNotFoundError);
    expect((entry as Error).message).toBe(`dataset ${DATASET}@main has no file nope.parquet`);
    // The model of the same name is not the dataset.
    await expect(client().revision('owner/unconverted', 'main')).rejects.toThrow(
      /^the Hub has no repository owner\/unconverted/,
    );
  });

  it('takes the convert revision as a revision name, and refuses repo types it does not serve', async () => {
    expect(isRevisionName(PARQUET_REVISION)).toBe(true);
    expect(isRevisionName('refs/convert/../x')).toBe(false);
    // A JavaScript caller's unknown repo types: refused before a URL or a folder is built of them.
    const space = { repoType: 'space' as RepoType };
    expect(() => client().fileUrl(DATASET, 'main', 'x', space)).toThrow(UnsafeHubValueError);
    const cache = new NodeHubCache({ dir, client: client() });
    await expect(
      cache.file(DATASET, 'main', 'README.md', { repoType: '../x' as RepoType }),
    ).rejects.toThrow(UnsafeHubValueError);
    await expect(cache.resolve(DATASET, 'main', space)).rejects.toThrow(UnsafeHubValueError);
    expect(() => repoFolderName(DATASET, '../x' as RepoType)).toThrow(UnsafeHubValueError);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('NodeHubCache with datasets', () => {
  it('lays a dataset out as huggingface_hub does: datasets--owner--name, refs/refs/convert/parquet', async () => {
    const cache = new NodeHubCache({ dir, client: client() });
    const path = await cache.file(DATASET, PARQUET_REVISION, 'default/test/0000.parquet', dataset);
    await cache.file(DATASET, 'main', 'README.md', dataset);
    const root = join(dir, folder);
    expect(repoFolderName(DATASET, 'dataset')).toBe(folder);
    expect(path).toBe(join(root, 'snapshots', PARQUET, 'default', 'test', '0000.parquet'));
    expect(readFileSync(path)).toEqual(Buffer.from(shard0));
    expect(readlinkSync(path)).toBe(`../../../../blobs/${sha256Hex(shard0)}`);
    expect(readFileSync(join(root, 'refs', 'refs', 'convert', 'parquet'), 'utf8')).toBe(PARQUET);
    expect(readFileSync(join(root, 'refs', 'main'), 'utf8')).toBe(MAIN);
    expect(readdirSync(join(root, 'blobs')).sort()).toEqual(
      [sha256Hex(shard0), gitBlobId(Buffer.from(readme))].sort(),
    );
    expect(existsSync(join(dir, '.locks', folder))).toBe(true);
    // The model of the same name has its own folder, untouched.
    expect(existsSync(join(dir, 'models--EleutherAI--lambada_openai'))).toBe(false);
    const model = await cache.file(DATASET, 'main', 'config.json');
    expect(model).toBe(
      join(dir, 'models--EleutherAI--lambada_openai', 'snapshots', MODEL_COMMIT, 'config.json'),
    );
    await expect(cache.file(DATASET, 'main', 'config.json', dataset)).rejects.toThrow(
      `dataset ${DATASET}@main has no file config.json`,
    );
  });

  it("reads a dataset cache written by Python's huggingface_hub, offline, and says what it lacks", async () => {
    // The layout huggingface_hub writes, made by hand.
    const root = join(dir, folder);
    const blob = sha256Hex(german);
    mkdirSync(join(root, 'blobs'), { recursive: true });
    mkdirSync(join(root, 'snapshots', PARQUET, 'de', 'test'), { recursive: true });
    mkdirSync(join(root, 'refs', 'refs', 'convert'), { recursive: true });
    writeFileSync(join(root, 'blobs', blob), german);
    symlinkSync(
      `../../../../blobs/${blob}`,
      join(root, 'snapshots', PARQUET, 'de', 'test', '0000.parquet'),
    );
    writeFileSync(join(root, 'refs', 'refs', 'convert', 'parquet'), PARQUET);

    const cache = new NodeHubCache({ dir, client: unreachable(), offline: true });
    const path = await cache.file(DATASET, PARQUET_REVISION, 'de/test/0000.parquet', dataset);
    expect(readFileSync(path)).toEqual(Buffer.from(german));
    expect(await cache.resolve(DATASET, PARQUET_REVISION, dataset)).toBe(PARQUET);
    const split = await listParquetFiles(cache, DATASET, 'de', 'test');
    expect(split).toMatchObject({ commit: PARQUET, partial: false });
    expect(paths(split.files)).toEqual(['de/test/0000.parquet']);

    const miss = await cache
      .file(DATASET, PARQUET_REVISION, 'default/test/0000.parquet', dataset)
      .catch((e: unknown) => e);
    expect(miss).toBeInstanceOf(NotCachedError);
    expect((miss as Error).message).toMatch(
      /^default\/test\/0000\.parquet of dataset EleutherAI\/lambada_openai@refs\/convert\/parquet is not in the cache and offline mode/,
    );
    await expect(cache.resolve(DATASET, 'main', dataset)).rejects.toThrow(NotCachedError);
    await expect(listParquetFiles(cache, DATASET, 'default', 'test')).rejects.toThrow(
      NotCachedError,
    );
    // As a model, the same name is not cached at all.
    await expect(cache.file(DATASET, PARQUET_REVISION, 'de/test/0000.parquet')).rejects.toThrow(
      NotCachedError,
    );
  });

  it('serves a downloaded split offline afterwards, and when the Hub is unreachable', async () => {
    const online = new NodeHubCache({ dir, client: client() });
    const split = await listParquetFiles(online, DATASET, 'default', 'test');
    for (const file of split.files) await online.file(DATASET, split.commit, file.path, dataset);
    const offline = new NodeHubCache({ dir, client: unreachable(), offline: true });
    const again = await listParquetFiles(offline, DATASET, 'default', 'test');
    expect(again.commit).toBe(PARQUET);
    // From the snapshot: the same files, sizes and sha256 (the git oid of an LFS file is not on disk).
    const summary = (files: RepoFile[]) => files.map((f) => [f.path, f.size, f.lfs?.sha256]);
    expect(summary(again.files)).toEqual(summary(split.files));
    // Unreachable but not offline: the files resolve from refs/ and the snapshot, as a model's do.
    for (const cache of [offline, new NodeHubCache({ dir, client: unreachable() })]) {
      const source = await cache.open(
        DATASET,
        PARQUET_REVISION,
        'default/test/0001.parquet',
        dataset,
      );
      expect(await source.read(0, source.size)).toEqual(shard1);
      await source.close();
    }
  });

  it('checks every dataset download: a damaged Parquet or small file is discarded', async () => {
    const cache = new NodeHubCache({ dir, client: client() });
    hub.tampered.add('default/test/0000.parquet');
    hub.tampered.add('README.md');
    const lfs = await cache
      .file(DATASET, PARQUET_REVISION, 'default/test/0000.parquet', dataset)
      .catch((e: unknown) => e);
    expect(lfs).toBeInstanceOf(IntegrityError);
    expect((lfs as IntegrityError).expected).toBe(sha256Hex(shard0));
    await expect(cache.file(DATASET, 'main', 'README.md', dataset)).rejects.toThrow(IntegrityError);
    expect(readdirSync(join(dir, folder, 'blobs'))).toEqual([]);
    expect(
      existsSync(join(dir, folder, 'snapshots', PARQUET, 'default', 'test', '0000.parquet')),
    ).toBe(false);
    // A file whose size is not the listed one is refused too.
    hub.tampered.clear();
    hub.faults.push({
      match: '/tree/',
      json: (page) =>
        (page as Array<{ path: string; size: number }>).map((e) =>
          e.path === 'de/test/0000.parquet' ? { ...e, size: e.size + 1 } : e,
        ),
      times: 2,
    });
    await expect(
      new NodeHubCache({ dir, client: client() }).file(
        DATASET,
        PARQUET_REVISION,
        'de/test/0000.parquet',
        dataset,
      ),
    ).rejects.toThrow();
    expect(
      readdirSync(join(dir, folder, 'blobs')).filter((b) => !b.endsWith('.incomplete')),
    ).toEqual([]);
  });

  it('lists, verifies and removes datasets apart from models', async () => {
    const cache = new NodeHubCache({ dir, client: client() });
    await cache.file(DATASET, PARQUET_REVISION, 'de/test/0000.parquet', dataset);
    await cache.file(DATASET, 'main', 'README.md', dataset);
    await cache.file(DATASET, 'main', 'config.json');
    const datasets = await cache.list(dataset);
    expect(datasets).toEqual([
      {
        repo: DATASET,
        size: german.length + readme.length,
        revisions: [
          {
            commit: MAIN,
            refs: ['main'],
            files: [{ path: 'README.md', size: readme.length }],
            size: readme.length,
          },
          {
            commit: PARQUET,
            refs: [PARQUET_REVISION],
            files: [{ path: 'de/test/0000.parquet', size: german.length }],
            size: german.length,
          },
        ],
      },
    ]);
    expect((await cache.list()).map((r) => r.repo)).toEqual([DATASET]);
    expect((await cache.list())[0]?.revisions.map((r) => r.commit)).toEqual([MODEL_COMMIT]);
    expect(await cache.verify(undefined, dataset)).toEqual([]);
    writeFileSync(join(dir, folder, 'blobs', sha256Hex(german)), 'damaged');
    expect(await cache.verify(DATASET, dataset)).toHaveLength(1);
    expect(await cache.verify(DATASET)).toEqual([]);
    expect(await cache.remove(DATASET, PARQUET_REVISION, dataset)).toBe('damaged'.length);
    expect(existsSync(join(dir, folder, 'refs', 'refs', 'convert', 'parquet'))).toBe(false);
    expect(existsSync(join(dir, folder, 'snapshots', MAIN, 'README.md'))).toBe(true);
    await cache.remove(DATASET, undefined, dataset);
    expect(existsSync(join(dir, folder))).toBe(false);
    expect(existsSync(join(dir, 'models--EleutherAI--lambada_openai'))).toBe(true);
  });
});

describe('listParquetFiles', () => {
  const file = (path: string): RepoFile => ({ path, size: 1, oid: '0'.repeat(40) });

  it('lists the shards of a split in order, from the Hub', async () => {
    const split = await listParquetFiles(new RemoteStore(client()), DATASET, 'default', 'test');
    expect(split).toMatchObject({
      dataset: DATASET,
      config: 'default',
      split: 'test',
      revision: PARQUET_REVISION,
      commit: PARQUET,
      partial: false,
    });
    expect(split.files.map((f) => f.path)).toEqual([
      'default/test/0000.parquet',
      'default/test/0001.parquet',
    ]);
  });

  it('names the configs and splits the conversion has when asked for another', async () => {
    const error = await listParquetFiles(
      new RemoteStore(client()),
      DATASET,
      'default',
      'train',
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ParquetSplitNotFoundError);
    expect(error).toBeInstanceOf(EntryNotFoundError);
    expect((error as Error).message).toBe(
      `dataset ${DATASET}@refs/convert/parquet has no Parquet files for config default, split train (it has de/test, default/test)`,
    );
    await expect(
      listParquetFiles(new RemoteStore(client()), 'owner/unconverted', 'default', 'test'),
    ).rejects.toThrow(RevisionNotFoundError);
  });

  it('reads the partial and the oldest layouts', () => {
    const files = [
      file('default/partial-train/0001.parquet'),
      file('default/partial-train/0000.parquet'),
      file('plain_text/duorc-test.parquet'),
      file('plain_text/duorc-validation-test.parquet'),
      file('sharded/duorc-train-00001-of-00002.parquet'),
      file('sharded/duorc-train-00000-of-00002.parquet'),
    ];
    expect(pickParquetFiles(files, 'duorc', 'default', 'train')).toEqual({
      files: [
        file('default/partial-train/0000.parquet'),
        file('default/partial-train/0001.parquet'),
      ],
      partial: true,
    });
    expect(pickParquetFiles(files, 'duorc', 'plain_text', 'test')?.files).toEqual([
      file('plain_text/duorc-test.parquet'),
    ]);
    expect(
      pickParquetFiles(files, 'owner/duorc', 'sharded', 'train')?.files.map((f) => f.path),
    ).toEqual([
      'sharded/duorc-train-00000-of-00002.parquet',
      'sharded/duorc-train-00001-of-00002.parquet',
    ]);
    expect(pickParquetFiles(files, 'duorc', 'plain_text', 'validation')).toBeUndefined();
  });
});

describe('BrowserHubCache with datasets', () => {
  it('caches a dataset file, its ref and listing, and serves them offline', async () => {
    const storage = memoryStorage();
    const cache = await BrowserHubCache.create({ client: client(), storage });
    const split = await listParquetFiles(cache, DATASET, 'default', 'test');
    for (const f of split.files) await cache.open(DATASET, PARQUET_REVISION, f.path, dataset);
    await cache.open(DATASET, 'main', 'config.json');
    const keys = await storage.keys();
    expect(keys).toContain(`dataset-refs/EleutherAI--lambada_openai/${PARQUET_REVISION}`);
    expect(keys).toContain(`dataset-trees/EleutherAI--lambada_openai/${PARQUET}`);
    expect(keys).toContain(`refs/${DATASET}/main`);

    const offline = await BrowserHubCache.create({ client: unreachable(), storage, offline: true });
    const source = await offline.open(
      DATASET,
      PARQUET_REVISION,
      'default/test/0001.parquet',
      dataset,
    );
    expect(new Uint8Array(await source.read(0, source.size))).toEqual(shard1);
    await expect(
      offline.open(DATASET, PARQUET_REVISION, 'de/test/0000.parquet', dataset),
    ).rejects.toThrow(NotCachedError);
    await expect(offline.resolve(DATASET, 'main', dataset)).rejects.toThrow(
      `dataset ${DATASET}@main is not in the cache`,
    );
    expect(await offline.list(dataset)).toEqual([
      {
        repo: DATASET,
        commit: PARQUET,
        refs: [PARQUET_REVISION],
        size: shard0.length + shard1.length,
        complete: false,
      },
    ]);
    expect((await offline.list()).map((r) => [r.repo, r.commit])).toEqual([
      [DATASET, MODEL_COMMIT],
    ]);
    await offline.remove(DATASET, undefined, dataset);
    expect(await offline.list(dataset)).toEqual([]);
    expect((await storage.keys()).filter((k) => k.startsWith('blobs/'))).toEqual([
      `blobs/${gitBlobId(Buffer.from(modelConfig))}`,
    ]);
  });

  it('checks every dataset download', async () => {
    hub.tampered.add('default/test/0001.parquet');
    const cache = await BrowserHubCache.create({ client: client(), storage: memoryStorage() });
    await expect(
      cache.open(DATASET, PARQUET_REVISION, 'default/test/0001.parquet', dataset),
    ).rejects.toThrow(IntegrityError);
  });
});

describe('FakeHub serves datasets', () => {
  it('answers refs with the conversion under converts, and only the encoded revision', async () => {
    const refs = await fetch(`${hub.hubOrigin}/api/datasets/${DATASET}/refs`).then((r) => r.json());
    expect(refs).toEqual({
      branches: [{ name: 'main', ref: 'refs/heads/main', targetCommit: MAIN }],
      tags: [],
      converts: [{ name: 'parquet', ref: PARQUET_REVISION, targetCommit: PARQUET }],
    });
    const plain = await fetch(
      `${hub.hubOrigin}/datasets/${DATASET}/resolve/refs/convert/parquet/README.md`,
    );
    expect(plain.status).toBe(404);
    const encoded = await fetch(
      `${hub.hubOrigin}/datasets/${DATASET}/resolve/refs%2Fconvert%2Fparquet/README.md`,
    );
    expect(await encoded.text()).toBe('# converted');
    // A model path is not a dataset path.
    expect((await fetch(`${hub.hubOrigin}/${DATASET}/resolve/main/README.md`)).status).toBe(404);
  });
});
