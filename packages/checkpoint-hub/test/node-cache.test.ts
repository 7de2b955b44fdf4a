import { spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HubClient, IntegrityError, NotCachedError } from '../src/index.js';
import { NodeHubCache } from '../src/node/index.js';
import { FakeHub, gitBlobId, sha256Hex } from '../src/testing/index.js';

const weights = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 31 + (i >> 8)) % 256);
const config = '{"hidden_size": 32}';
const C0 = '0'.repeat(40);
const C1 = '1'.repeat(40);
const REPO = 'EleutherAI/pythia-tiny';
const hub = new FakeHub({
  [REPO]: {
    branches: { main: C1, step0: C0, step1: C1 },
    commits: {
      [C0]: { 'config.json': config, 'model.safetensors': weights.subarray(0, 1000) },
      [C1]: { 'config.json': config, 'model.safetensors': weights, 'sub/notes.txt': 'hi' },
    },
  },
});
const folder = 'models--EleutherAI--pythia-tiny';
let dir: string;
const client = () => new HubClient({ endpoint: hub.hubOrigin, retries: 2, retryDelayMs: 1 });
const cdnDownloads = () => hub.requests.filter((r) => r.origin === 'cdn').length;

beforeAll(() => hub.start());
afterAll(() => hub.stop());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hf-cache-'));
  hub.requests.length = 0;
  hub.faults.length = 0;
  hub.tampered.clear();
});

describe('NodeHubCache lays files out as huggingface_hub does', () => {
  it('stores blobs by checksum, snapshots as relative symlinks, and refs', async () => {
    const cache = new NodeHubCache({ dir, client: client() });
    const modelPath = await cache.file(REPO, 'step1', 'model.safetensors');
    await cache.file(REPO, 'step1', 'config.json');
    await cache.file(REPO, 'step1', 'sub/notes.txt');
    const root = join(dir, folder);
    expect(modelPath).toBe(join(root, 'snapshots', C1, 'model.safetensors'));
    expect(readFileSync(modelPath)).toEqual(Buffer.from(weights));
    expect(readlinkSync(modelPath)).toBe(`../../blobs/${sha256Hex(weights)}`);
    expect(readlinkSync(join(root, 'snapshots', C1, 'config.json'))).toBe(
      `../../blobs/${gitBlobId(Buffer.from(config))}`,
    );
    expect(readlinkSync(join(root, 'snapshots', C1, 'sub', 'notes.txt'))).toBe(
      `../../../blobs/${gitBlobId(Buffer.from('hi'))}`,
    );
    expect(readFileSync(join(root, 'refs', 'step1'), 'utf8')).toBe(C1);
    expect(readdirSync(join(root, 'blobs')).sort()).toEqual(
      [sha256Hex(weights), gitBlobId(Buffer.from(config)), gitBlobId(Buffer.from('hi'))].sort(),
    );
  });

  it('downloads a blob shared by two revisions once', async () => {
    const cache = new NodeHubCache({ dir, client: client() });
    await cache.file(REPO, 'step0', 'config.json');
    await cache.file(REPO, 'step1', 'config.json');
    expect(
      hub.requests.filter((r) => r.url.includes('/resolve/') && r.url.endsWith('config.json')),
    ).toHaveLength(1);
    expect(readdirSync(join(dir, folder, 'blobs'))).toHaveLength(1);
  });

  it("reads a cache written by Python's huggingface_hub, offline", async () => {
    // The layout huggingface_hub writes, made by hand: no pythiajs code involved.
    const root = join(dir, folder);
    mkdirSync(join(root, 'blobs'), { recursive: true });
    mkdirSync(join(root, 'snapshots', C0), { recursive: true });
    mkdirSync(join(root, 'refs'), { recursive: true });
    const blob = gitBlobId(Buffer.from(config));
    writeFileSync(join(root, 'blobs', blob), config);
    symlinkSync(`../../blobs/${blob}`, join(root, 'snapshots', C0, 'config.json'));
    writeFileSync(join(root, 'refs', 'step0'), C0);

    const cache = new NodeHubCache({
      dir,
      client: new HubClient({ endpoint: 'http://127.0.0.1:9' }),
      offline: true,
    });
    expect(readFileSync(await cache.file(REPO, 'step0', 'config.json'), 'utf8')).toBe(config);
    expect(readFileSync(await cache.file(REPO, C0, 'config.json'), 'utf8')).toBe(config);
    await expect(cache.file(REPO, 'step0', 'model.safetensors')).rejects.toThrow(NotCachedError);
    await expect(cache.file(REPO, 'step1', 'config.json')).rejects.toThrow(
      /not in the cache and offline mode/,
    );
    expect(await cache.list()).toEqual([
      {
        repo: REPO,
        size: config.length,
        revisions: [
          {
            commit: C0,
            refs: ['step0'],
            files: [{ path: 'config.json', size: config.length }],
            size: config.length,
          },
        ],
      },
    ]);
  });

  it('works offline with HF_HUB_OFFLINE=1 once downloaded, and falls back to the cache when the Hub is unreachable', async () => {
    await new NodeHubCache({ dir, client: client() }).file(REPO, 'main', 'config.json');
    process.env.HF_HUB_OFFLINE = '1';
    try {
      const offline = new NodeHubCache({
        dir,
        client: new HubClient({ endpoint: 'http://127.0.0.1:9' }),
      });
      expect(offline.offline).toBe(true);
      expect(readFileSync(await offline.file(REPO, 'main', 'config.json'), 'utf8')).toBe(config);
    } finally {
      delete process.env.HF_HUB_OFFLINE;
    }
    const unreachable = new NodeHubCache({
      dir,
      client: new HubClient({ endpoint: 'http://127.0.0.1:9', retries: 0 }),
    });
    expect(readFileSync(await unreachable.file(REPO, 'main', 'config.json'), 'utf8')).toBe(config);
  });
});

describe('NodeHubCache never keeps a damaged or partial file', () => {
  it('discards a download whose sha256 does not match and says so', async () => {
    hub.tampered.add('model.safetensors');
    const cache = new NodeHubCache({ dir, client: client() });
    await expect(cache.file(REPO, 'step1', 'model.safetensors')).rejects.toThrow(IntegrityError);
    const blobs = readdirSync(join(dir, folder, 'blobs'));
    expect(blobs).toEqual([]);
    expect(existsSync(join(dir, folder, 'snapshots', C1, 'model.safetensors'))).toBe(false);
  });

  it('resumes a download an earlier process left half done', async () => {
    const root = join(dir, folder);
    mkdirSync(join(root, 'blobs'), { recursive: true });
    writeFileSync(
      join(root, 'blobs', `${sha256Hex(weights)}.incomplete`),
      weights.subarray(0, 123_456),
    );
    const cache = new NodeHubCache({ dir, client: client() });
    const path = await cache.file(REPO, 'step1', 'model.safetensors');
    expect(readFileSync(path)).toEqual(Buffer.from(weights));
    expect(hub.requests.filter((r) => r.origin === 'cdn').map((r) => r.range)).toEqual([
      'bytes=123456-',
    ]);
    expect(readdirSync(join(root, 'blobs'))).toEqual([sha256Hex(weights)]);
  });

  it('resumes after a connection cut mid-body within one call', async () => {
    hub.faults.push({ match: '/lfs/', cutAfter: 100_000, times: 1 });
    const path = await new NodeHubCache({ dir, client: client() }).file(
      REPO,
      'step1',
      'model.safetensors',
    );
    expect(readFileSync(path)).toEqual(Buffer.from(weights));
  });

  it('leaves one good blob when two processes download the same file at once', async () => {
    const script = `
      import { HubClient } from '@pythiajs/checkpoint-hub';
      import { NodeHubCache } from '@pythiajs/checkpoint-hub/node';
      const cache = new NodeHubCache({ dir: process.argv[1], client: new HubClient({ endpoint: process.argv[2] }) });
      await cache.file('${REPO}', 'step1', 'model.safetensors');
    `;
    const run = () =>
      new Promise<number>((resolve) => {
        const child = spawn(
          process.execPath,
          ['--input-type=module', '-e', script, dir, hub.hubOrigin],
          {
            cwd: new URL('..', import.meta.url),
            stdio: 'inherit',
          },
        );
        child.on('exit', (code) => resolve(code ?? 1));
      });
    expect(await Promise.all([run(), run(), run()])).toEqual([0, 0, 0]);
    const root = join(dir, folder);
    expect(readdirSync(join(root, 'blobs'))).toEqual([sha256Hex(weights)]);
    expect(readFileSync(join(root, 'blobs', sha256Hex(weights)))).toEqual(Buffer.from(weights));
    expect(lstatSync(join(root, 'snapshots', C1, 'model.safetensors')).isSymbolicLink()).toBe(true);
    expect(cdnDownloads()).toBe(1);
    expect(readdirSync(join(dir, '.locks', folder))).toEqual([]);
  });

  it('takes over the lock of a process killed mid-download, and resumes its partial file', async () => {
    // The first process gets 100 000 bytes, then the connection goes silent; it is killed there.
    hub.faults.push({ match: '/lfs/', stallAfter: 100_000, times: 1 });
    const script = `
      import { HubClient } from '@pythiajs/checkpoint-hub';
      import { NodeHubCache } from '@pythiajs/checkpoint-hub/node';
      const cache = new NodeHubCache({ dir: process.argv[1], client: new HubClient({ endpoint: process.argv[2] }) });
      await cache.file('${REPO}', 'step1', 'model.safetensors');
    `;
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', script, dir, hub.hubOrigin],
      { cwd: new URL('..', import.meta.url), stdio: 'inherit' },
    );
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const blob = sha256Hex(weights);
    const incomplete = join(dir, folder, 'blobs', `${blob}.incomplete`);
    for (let waited = 0; !(existsSync(incomplete) && statSync(incomplete).size >= 100_000); ) {
      if (waited > 30_000) throw new Error('the first process never wrote its partial file');
      await new Promise((r) => setTimeout(r, 20));
      waited += 20;
    }
    expect(existsSync(join(dir, '.locks', folder, `${blob}.lock`))).toBe(true);
    child.kill('SIGKILL');
    await exited;

    // Its lock names a dead PID: taken over at once, not after the 30 s heartbeat.
    const start = Date.now();
    const path = await new NodeHubCache({ dir, client: client() }).file(
      REPO,
      'step1',
      'model.safetensors',
    );
    expect(Date.now() - start).toBeLessThan(10_000);
    expect(readFileSync(path)).toEqual(Buffer.from(weights));
    expect(hub.requests.filter((r) => r.origin === 'cdn').map((r) => r.range)).toEqual([
      undefined,
      'bytes=100000-',
    ]);
    expect(readdirSync(join(dir, folder, 'blobs'))).toEqual([blob]);
    expect(readdirSync(join(dir, '.locks', folder))).toEqual([]);
  });
});

describe('NodeHubCache management', () => {
  it('lists, verifies and removes revisions, keeping blobs another revision still uses', async () => {
    const cache = new NodeHubCache({ dir, client: client() });
    await cache.file(REPO, 'step0', 'config.json');
    await cache.file(REPO, 'step0', 'model.safetensors');
    await cache.file(REPO, 'step1', 'config.json');
    await cache.file(REPO, 'step1', 'model.safetensors');
    const [listed] = await cache.list();
    expect(listed?.revisions.map((r) => [r.commit, r.refs])).toEqual([
      [C0, ['step0']],
      [C1, ['step1']],
    ]);
    expect(listed?.size).toBe(config.length + 1000 + weights.length);
    expect(await cache.verify()).toEqual([]);

    // Damage a blob on disk: verify names it.
    const blob = join(dir, folder, 'blobs', sha256Hex(weights.subarray(0, 1000)));
    rmSync(blob);
    writeFileSync(blob, weights.subarray(1, 1001));
    expect((await cache.verify()).map((p) => p.blob)).toEqual([
      sha256Hex(weights.subarray(0, 1000)),
    ]);

    const freed = await cache.remove(REPO, 'step0');
    expect(freed).toBe(1000);
    expect(readdirSync(join(dir, folder, 'snapshots'))).toEqual([C1]);
    expect(existsSync(join(dir, folder, 'refs', 'step0'))).toBe(false);
    expect(readFileSync(await cache.file(REPO, 'step1', 'config.json'), 'utf8')).toBe(config);
    expect(await cache.remove(REPO)).toBe(config.length + weights.length);
    expect(await cache.list()).toEqual([]);
  });
});
