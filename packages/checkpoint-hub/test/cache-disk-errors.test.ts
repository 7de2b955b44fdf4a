import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statfsSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DiskFullError, HubClient } from '../src/index.js';
import { NodeHubCache } from '../src/node/index.js';
import { damagedBlobs, FakeHub, sha256Hex } from '../src/testing/index.js';

// A cache that cannot take a file says why, at once: a full disk is DiskFullError (no retries,
// the partial file kept to resume), a cache that cannot be written is CacheNotWritableError
// naming HF_HUB_CACHE, never an ENOENT from deep inside a mkdir.

const C1 = '1'.repeat(40);
const REPO = 'EleutherAI/pythia-tiny';
const folder = 'models--EleutherAI--pythia-tiny';
const weights = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 13) % 256);
const hub = new FakeHub({
  [REPO]: {
    branches: { main: C1 },
    commits: { [C1]: { 'config.json': '{}', 'model.safetensors': weights } },
  },
});
const packageDir = fileURLToPath(new URL('..', import.meta.url));
let dir: string;
const cache = () =>
  new NodeHubCache({
    dir,
    client: new HubClient({ endpoint: hub.hubOrigin, retries: 3, retryDelayMs: 1 }),
  });
const contentRequests = () =>
  hub.requests.filter(
    (r) => r.origin === 'cdn' || (r.url.includes('/resolve/') && r.url.includes('model')),
  );

beforeAll(async () => {
  await hub.start();
  hub.pageSize = 100;
});
afterAll(() => hub.stop());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hf-disk-'));
  hub.requests.length = 0;
  hub.faults.length = 0;
});

describe('a full disk', () => {
  it('stops the download at the first failed write, with DiskFullError and no retry, keeping the partial file', async () => {
    // Writes to /dev/full fail with ENOSPC: a real full disk, without filling one.
    const blobs = join(dir, folder, 'blobs');
    const incomplete = join(blobs, `${sha256Hex(weights)}.incomplete`);
    mkdirSync(blobs, { recursive: true });
    symlinkSync('/dev/full', incomplete);

    const error = await cache()
      .file(REPO, 'main', 'model.safetensors')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiskFullError);
    expect(error).toMatchObject({ path: incomplete, needed: weights.length });
    expect((error as Error).message).toContain('no space left on device');
    expect((error as Error).message).toContain('HF_HUB_CACHE');
    expect(hub.requests.filter((r) => r.origin === 'cdn')).toHaveLength(1);
    // No blob, damaged or not, and no snapshot: only the partial download, to resume.
    expect(readdirSync(blobs)).toEqual([`${sha256Hex(weights)}.incomplete`]);
    expect(readlinkSync(incomplete)).toBe('/dev/full');
    expect(damagedBlobs(blobs)).toEqual([]);
    expect(existsSync(join(dir, folder, 'snapshots', C1, 'model.safetensors'))).toBe(false);
  });

  it('refuses a file larger than the free space before downloading a byte, naming both', async () => {
    // The listing says the file is 1 PiB; its content stays small, since it is never asked for.
    const huge = 2 ** 50;
    hub.faults.push({
      match: '/tree/',
      json: (page) =>
        (page as Array<Record<string, unknown>>).map((e) =>
          e.path === 'model.safetensors'
            ? { ...e, size: huge, lfs: { ...(e.lfs as object), size: huge } }
            : e,
        ),
      times: 1,
    });
    const error = await cache()
      .file(REPO, 'main', 'model.safetensors')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiskFullError);
    const { free, needed } = error as DiskFullError;
    expect(needed).toBe(huge);
    expect(free).toBeGreaterThan(0);
    expect(free).toBeLessThan(huge);
    const disk = statfsSync(dir);
    expect(Math.abs(free! - disk.bavail * disk.bsize)).toBeLessThan(1e9);
    expect((error as Error).message).toContain(`free ${free} bytes (needs ${huge})`);
    expect(contentRequests()).toEqual([]);
    expect(readdirSync(join(dir, folder, 'blobs'))).toEqual([]);
  });
});

/** What `cache.file(...)` gave: the file's content, or the error's name, message and fields. */
type Outcome = { content?: string; error?: Record<string, unknown> };

/**
 * Runs `cache.file(REPO, 'main', 'config.json')` on a cache folder the process may not write. As
 * root, file modes do not apply, so it runs as `nobody` in a child process (reading the built
 * package); otherwise in this process, the folders having been made read-only.
 */
async function fileWithoutWriteAccess(cacheDir: string, readOnly: string): Promise<Outcome> {
  if (process.getuid?.() !== 0) {
    execFileSync('chmod', ['-R', 'a-w', readOnly]);
    try {
      const cache = new NodeHubCache({
        dir: cacheDir,
        client: new HubClient({ endpoint: hub.hubOrigin, retries: 0 }),
      });
      const path = await cache.file(REPO, 'main', 'config.json');
      return { content: readFileSync(path, 'utf8') };
    } catch (e) {
      const error = e as Error;
      return { error: { ...error, name: error.name, message: error.message } };
    } finally {
      execFileSync('chmod', ['-R', 'u+w', readOnly]);
    }
  }
  const script = `
    import { readFileSync } from 'node:fs';
    import { HubClient } from '@pythiajs/checkpoint-hub';
    import { NodeHubCache } from '@pythiajs/checkpoint-hub/node';
    const [dir, endpoint] = process.argv.slice(1);
    const cache = new NodeHubCache({ dir, client: new HubClient({ endpoint, retries: 0 }) });
    const outcome = await cache.file('${REPO}', 'main', 'config.json').then(
      (path) => ({ content: readFileSync(path, 'utf8') }),
      (error) => ({ error: { ...error, name: error.name, message: error.message } }),
    );
    process.stdout.write(JSON.stringify(outcome));
  `;
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', script, cacheDir, hub.hubOrigin],
    { cwd: packageDir, uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await once(child, 'exit');
  return JSON.parse(out) as Outcome;
}

describe('a cache that cannot be written', () => {
  beforeEach(() => {
    // As root the test runs as nobody, who must reach the folder (mkdtemp makes it 0700), and
    // cannot write in it: it belongs to root.
    chmodSync(dir, 0o755);
  });

  it('whose folder does not exist, under a folder that cannot be written', async () => {
    const parent = join(dir, 'read-only');
    mkdirSync(parent);
    const { error } = await fileWithoutWriteAccess(join(parent, 'hub'), parent);
    expect(error).toMatchObject({ name: 'CacheNotWritableError', code: 'EACCES' });
    expect(error?.message).toMatch(/read-only.*HF_HUB_CACHE/);
    expect(error?.message).not.toContain('ENOENT');
    expect(String(error?.path)).toContain(join(parent, 'hub'));
    expect(existsSync(join(parent, 'hub'))).toBe(false);
  });

  it('whose folder exists but cannot be written', async () => {
    const cacheDir = join(dir, 'hub');
    mkdirSync(cacheDir);
    const { error } = await fileWithoutWriteAccess(cacheDir, cacheDir);
    expect(error).toMatchObject({ name: 'CacheNotWritableError', code: 'EACCES' });
    expect(error?.message).toContain('HF_HUB_CACHE');
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('still serves what it holds', async () => {
    const cacheDir = join(dir, 'hub');
    await new NodeHubCache({
      dir: cacheDir,
      client: new HubClient({ endpoint: hub.hubOrigin }),
    }).file(REPO, 'main', 'config.json');
    expect(await fileWithoutWriteAccess(cacheDir, cacheDir)).toEqual({ content: '{}' });
  });
});
