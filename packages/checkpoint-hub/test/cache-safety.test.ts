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
  HubClient,
  memoryStorage,
  NotCachedError,
  UnsafeHubValueError,
} from '../src/index.js';
import { NodeHubCache } from '../src/node/index.js';
import { damagedBlobs, FakeHub, folderState, gitBlobId, sha256Hex } from '../src/testing/index.js';

// A server (or HF_ENDPOINT pointing somewhere hostile) controls the commit ids, paths and
// checksums a cache turns into paths. Each attack below must be refused with UnsafeHubValueError
// naming the value, before anything is written: nothing outside the cache folder changes, and
// every blob in the cache is what its name says.

const C1 = '1'.repeat(40);
const REPO = 'EleutherAI/pythia-tiny';
const folder = 'models--EleutherAI--pythia-tiny';
const config = '{"hidden_size": 32}';
const weights = Uint8Array.from({ length: 50_000 }, (_, i) => (i * 7) % 251);
const SECRET = 'not a model file';
const hub = new FakeHub({
  [REPO]: {
    // A branch whose name climbs out of refs/: a Hub may have it, a cache must not write it.
    branches: { main: C1, '../../../escaped-ref': C1 },
    commits: {
      [C1]: { 'config.json': config, 'model.safetensors': weights, 'sub/notes.txt': 'hi' },
    },
  },
});

let parent: string;
let dir: string;
let before: string[];
const client = () => new HubClient({ endpoint: hub.hubOrigin, retries: 1, retryDelayMs: 1 });
const cache = (options: { offline?: boolean } = {}) =>
  new NodeHubCache({ dir, client: client(), ...options });

/** Rewrites one entry of the tree listing (by path) the next time it is served. */
function rewriteEntry(path: string, change: (entry: Record<string, unknown>) => object) {
  hub.faults.push({
    match: '/tree/',
    json: (page) =>
      (page as Array<Record<string, unknown>>).map((e) => (e.path === path ? change(e) : e)),
    times: 1,
  });
}

/** Nothing outside the cache folder changed, and the cache holds no damaged blob. */
function expectNothingOutsideChanged() {
  expect(folderState(parent, dir)).toEqual(before);
  expect(readFileSync(join(parent, 'secret.txt'), 'utf8')).toBe(SECRET);
  expect(damagedBlobs(join(dir, folder, 'blobs'))).toEqual([]);
}

beforeAll(async () => {
  await hub.start();
  hub.pageSize = 100;
});
afterAll(() => hub.stop());
beforeEach(() => {
  // The cache is a subfolder, so that what it might plant beside itself is seen.
  parent = mkdtempSync(join(tmpdir(), 'hf-safety-'));
  dir = join(parent, 'cache');
  writeFileSync(join(parent, 'secret.txt'), SECRET);
  mkdirSync(join(parent, 'elsewhere'));
  before = folderState(parent, dir);
  hub.requests.length = 0;
  hub.faults.length = 0;
});

describe('NodeHubCache refuses values from the Hub that would become paths outside it', () => {
  it('a commit id of "../../../x" (it would become snapshots/../../../x and refs/main)', async () => {
    hub.faults.push({
      match: '/revision/',
      json: (answer) => ({ ...(answer as object), sha: '../../../x' }),
      times: 1,
    });
    await expect(cache().file(REPO, 'main', 'config.json')).rejects.toThrow(
      expect.objectContaining({
        name: 'UnsafeHubValueError',
        what: 'commit id',
        value: '../../../x',
        endpoint: hub.hubOrigin,
      }),
    );
    expect(existsSync(join(dir, folder, 'refs', 'main'))).toBe(false);
    expectNothingOutsideChanged();
  });

  it('a listed path with "../" (it would plant a link beside the cache)', async () => {
    rewriteEntry('config.json', (e) => ({ ...e, path: '../../../../planted.json' }));
    // As `pythia download` does: every listed file.
    const downloadAll = async (c: NodeHubCache) => {
      for (const { path } of await c.files(REPO, 'main')) await c.file(REPO, 'main', path);
    };
    const error = await downloadAll(cache()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeHubValueError);
    expect(error).toMatchObject({ what: 'file path', value: '../../../../planted.json' });
    expect((error as Error).message).toContain('"../../../../planted.json"');
    expectNothingOutsideChanged();
  });

  it('a git blob id of "../../../secret.txt" (a snapshot would point at any local file)', async () => {
    rewriteEntry('config.json', (e) => ({ ...e, oid: '../../../secret.txt' }));
    await expect(cache().file(REPO, 'main', 'config.json')).rejects.toThrow(
      expect.objectContaining({ what: 'git blob id', value: '../../../secret.txt' }),
    );
    expect(existsSync(join(dir, folder, 'snapshots', C1, 'config.json'))).toBe(false);
    expectNothingOutsideChanged();
  });

  it('an LFS sha256 that is not hex', async () => {
    const oid = `../../../${'a'.repeat(55)}`;
    rewriteEntry('model.safetensors', (e) => ({
      ...e,
      lfs: { ...(e.lfs as object), oid },
    }));
    await expect(cache().file(REPO, 'main', 'model.safetensors')).rejects.toThrow(
      expect.objectContaining({ what: 'LFS sha256', value: oid }),
    );
    expect(hub.requests.filter((r) => r.url.includes('/resolve/'))).toEqual([]);
    expectNothingOutsideChanged();
  });
});

describe("NodeHubCache refuses the caller's own values that would leave it", () => {
  it('a revision argument of "../../../escaped-ref", before asking the Hub', async () => {
    await expect(cache().file(REPO, '../../../escaped-ref', 'config.json')).rejects.toThrow(
      expect.objectContaining({
        name: 'UnsafeHubValueError',
        what: 'revision',
        value: '../../../escaped-ref',
      }),
    );
    expect(hub.requests).toEqual([]);
    expectNothingOutsideChanged();
  });

  it('a file path argument of "../../../../secret.txt" (as a shard index might name)', async () => {
    const c = cache();
    await c.file(REPO, 'main', 'config.json');
    await expect(c.file(REPO, 'main', '../../../../secret.txt')).rejects.toThrow(
      expect.objectContaining({ what: 'file path', value: '../../../../secret.txt' }),
    );
    await expect(c.file(REPO, 'main', '/etc/passwd')).rejects.toThrow(UnsafeHubValueError);
    expectNothingOutsideChanged();
  });

  it('a repo id that climbs out of models--…', async () => {
    await expect(cache().file('EleutherAI/../../x', 'main', 'config.json')).rejects.toThrow(
      expect.objectContaining({ what: 'repository id' }),
    );
    expect(hub.requests).toEqual([]);
    expectNothingOutsideChanged();
  });
});

describe('NodeHubCache never follows a link out of itself that an earlier run or a hand left', () => {
  const root = () => join(dir, folder);

  it('a snapshot link to a file outside blobs/ is not a cached file: verify names it, offline it is not cached, online it is replaced', async () => {
    mkdirSync(join(root(), 'snapshots', C1), { recursive: true });
    mkdirSync(join(root(), 'refs'), { recursive: true });
    writeFileSync(join(root(), 'refs', 'main'), C1);
    symlinkSync('../../../../secret.txt', join(root(), 'snapshots', C1, 'config.json'));
    before = folderState(parent, dir);

    expect(await cache().verify()).toEqual([
      {
        repo: REPO,
        blob: `snapshots/${C1}/config.json`,
        problem: expect.stringContaining('outside this repo'),
      },
    ]);
    await expect(cache({ offline: true }).file(REPO, 'main', 'config.json')).rejects.toThrow(
      NotCachedError,
    );
    expect(await cache({ offline: true }).files(REPO, 'main')).toEqual([]);

    const path = await cache().file(REPO, 'main', 'config.json');
    expect(readFileSync(path, 'utf8')).toBe(config);
    expect(readlinkSync(path)).toBe(`../../blobs/${gitBlobId(Buffer.from(config))}`);
    expect(await cache().verify()).toEqual([]);
    expectNothingOutsideChanged();
  });

  it('a snapshot folder that is a link to a folder outside is not written through', async () => {
    mkdirSync(join(root(), 'snapshots', C1), { recursive: true });
    symlinkSync(join(parent, 'elsewhere'), join(root(), 'snapshots', C1, 'sub'));
    before = folderState(parent, dir);
    await expect(cache().file(REPO, 'main', 'sub/notes.txt')).rejects.toThrow(UnsafeHubValueError);
    expect(readdirSync(join(parent, 'elsewhere'))).toEqual([]);
    expectNothingOutsideChanged();
  });

  it('a partial download that is a link to a file outside is dropped, not appended to', async () => {
    const blobs = join(root(), 'blobs');
    mkdirSync(blobs, { recursive: true });
    symlinkSync(join(parent, 'secret.txt'), join(blobs, `${sha256Hex(weights)}.incomplete`));
    before = folderState(parent, dir);
    const path = await cache().file(REPO, 'main', 'model.safetensors');
    expect(readFileSync(path)).toEqual(Buffer.from(weights));
    expect(readdirSync(blobs)).toEqual([sha256Hex(weights)]);
    expectNothingOutsideChanged();
  });

  it('a blob that is a link to a file outside is replaced by a verified download', async () => {
    const blob = gitBlobId(Buffer.from(config));
    mkdirSync(join(root(), 'blobs'), { recursive: true });
    symlinkSync(join(parent, 'secret.txt'), join(root(), 'blobs', blob));
    before = folderState(parent, dir);
    expect((await cache().verify()).map((p) => p.problem)).toEqual([
      'not a file (a link or folder)',
    ]);
    const path = await cache().file(REPO, 'main', 'config.json');
    expect(readFileSync(path, 'utf8')).toBe(config);
    expectNothingOutsideChanged();
  });
});

describe('BrowserHubCache applies the same rule to its storage keys', () => {
  const browserCache = async () => {
    const storage = memoryStorage();
    return { storage, cache: await BrowserHubCache.create({ client: client(), storage }) };
  };

  it('refuses a commit id from the Hub that is not one, storing nothing', async () => {
    hub.faults.push({
      match: '/revision/',
      json: (answer) => ({ ...(answer as object), sha: '../../blobs/x' }),
      times: 1,
    });
    const { storage, cache } = await browserCache();
    await expect(cache.resolve(REPO, 'main')).rejects.toThrow(
      expect.objectContaining({ what: 'commit id', value: '../../blobs/x' }),
    );
    expect(await storage.keys()).toEqual([]);
  });

  it('refuses a revision argument that would name another key', async () => {
    const { storage, cache } = await browserCache();
    await expect(cache.resolve(REPO, `../../../blobs/${'a'.repeat(40)}`)).rejects.toThrow(
      UnsafeHubValueError,
    );
    expect(hub.requests).toEqual([]);
    expect(await storage.keys()).toEqual([]);
  });

  it('refuses a listing with a path or checksum that is not a Hub one, storing no listing', async () => {
    rewriteEntry('config.json', (e) => ({ ...e, oid: '../x' }));
    const { storage, cache } = await browserCache();
    await expect(cache.files(REPO, 'main')).rejects.toThrow(
      expect.objectContaining({ what: 'git blob id', value: '../x' }),
    );
    expect((await storage.keys()).filter((k) => k.startsWith('trees/'))).toEqual([]);
  });
});
