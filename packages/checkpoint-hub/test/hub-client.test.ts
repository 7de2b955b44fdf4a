import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  EntryNotFoundError,
  HubAccessError,
  HubClient,
  HubNetworkError,
  IncompleteListingError,
  RepoNotFoundError,
  RevisionNotFoundError,
} from '../src/index.js';
import { FakeHub, gitBlobId, sha256Hex } from '../src/testing/index.js';
import { MemoryTarget } from './support/memory-target.js';

const weights = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 251);
const COMMIT_A = 'a'.repeat(40);
const COMMIT_B = 'b'.repeat(40);

const hub = new FakeHub({
  'EleutherAI/pythia-tiny': {
    branches: { main: COMMIT_B, step0: COMMIT_A, step1000: COMMIT_B },
    commits: {
      [COMMIT_A]: { 'config.json': '{"a":1}', 'model.safetensors': weights.subarray(0, 5000) },
      [COMMIT_B]: {
        'config.json': '{"b":2}',
        'tokenizer.json': '{}',
        'model.safetensors': weights,
        'sub/dir/notes.txt': 'hello',
        'README.md': '# tiny',
      },
    },
  },
  'EleutherAI/gated': {
    branches: { main: COMMIT_A },
    commits: { [COMMIT_A]: { 'config.json': '{}' } },
    token: 'hf_secret',
  },
});

let client: HubClient;
beforeAll(async () => {
  await hub.start();
});
afterAll(() => hub.stop());
beforeEach(() => {
  hub.requests.length = 0;
  hub.faults.length = 0;
  client = new HubClient({
    endpoint: hub.hubOrigin,
    token: 'hf_test',
    retries: 3,
    retryDelayMs: 1,
  });
});

describe('HubClient listings', () => {
  it('resolves a branch to its commit and files', async () => {
    const { commit, files } = await client.revision('EleutherAI/pythia-tiny', 'step0');
    expect(commit).toBe(COMMIT_A);
    expect(files.sort()).toEqual(['config.json', 'model.safetensors']);
  });

  it('lists every file across the pages of the tree, with git and LFS checksums', async () => {
    const files = await client.listFiles('EleutherAI/pythia-tiny', 'main');
    expect(files.map((f) => f.path).sort()).toEqual([
      'README.md',
      'config.json',
      'model.safetensors',
      'sub/dir/notes.txt',
      'tokenizer.json',
    ]);
    const model = files.find((f) => f.path === 'model.safetensors')!;
    expect(model).toEqual({
      path: 'model.safetensors',
      size: 100_000,
      oid: gitBlobId(weights),
      lfs: { sha256: sha256Hex(weights), size: 100_000 },
    });
    expect(files.find((f) => f.path === 'config.json')?.lfs).toBeUndefined();
    expect(hub.requests.filter((r) => r.url.includes('/tree/'))).toHaveLength(2);
  });

  it('says it could not list every file when the next page cannot be read (a hidden Link header)', async () => {
    // What a browser sees of a server that does not expose Link: the first page, then nothing.
    hub.faults.push({ match: '/tree/', headers: { Link: '' }, times: 1 });
    const repo = 'EleutherAI/pythia-tiny';
    await client.revision(repo, COMMIT_B);
    const error = await client.listFiles(repo, COMMIT_B).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IncompleteListingError);
    expect(error).toMatchObject({ repo, revision: COMMIT_B, expected: 5, listed: 3 });
    expect((error as Error).message).toMatch(
      new RegExp(
        `^could not list all files of ${repo}@${COMMIT_B}: the listing ended after 3 of its 5 files ` +
          '\\(missing [^)]+\\)\\. Its next page was not readable: .*Access-Control-Expose-Headers: Link',
      ),
    );
    // With the pages readable, the same listing is whole.
    expect(await client.listFiles(repo, COMMIT_B)).toHaveLength(5);
  });

  it('lists the branches of a repo', async () => {
    const refs = await client.refs('EleutherAI/pythia-tiny');
    expect(refs).toContainEqual({ name: 'step0', commit: COMMIT_A });
    expect(refs).toHaveLength(3);
  });
});

describe('HubClient downloads', () => {
  it('follows the redirect to the CDN without sending it the token', async () => {
    const target = new MemoryTarget();
    await client.download('EleutherAI/pythia-tiny', COMMIT_B, 'model.safetensors', target, {
      size: weights.length,
    });
    expect(target.bytes()).toEqual(weights);
    const hubCalls = hub.requests.filter((r) => r.origin === 'hub');
    const cdnCalls = hub.requests.filter((r) => r.origin === 'cdn');
    expect(hubCalls.every((r) => r.authorization === 'Bearer hf_test')).toBe(true);
    expect(cdnCalls.length).toBeGreaterThan(0);
    expect(cdnCalls.every((r) => r.authorization === undefined)).toBe(true);
  });

  it('reads just the byte range asked for', async () => {
    const bytes = await client.readRange(
      'EleutherAI/pythia-tiny',
      'main',
      'model.safetensors',
      12_345,
      1000,
    );
    expect(bytes).toEqual(weights.subarray(12_345, 13_345));
    expect(hub.requests.find((r) => r.origin === 'cdn')?.range).toBe('bytes=12345-13344');
  });

  it('resumes with a Range request from where a cut connection stopped', async () => {
    hub.faults.push({ match: '/lfs/', cutAfter: 30_000, times: 1 });
    const target = new MemoryTarget();
    const progress: number[] = [];
    await client.download('EleutherAI/pythia-tiny', 'main', 'model.safetensors', target, {
      size: weights.length,
      onProgress: (p) => progress.push(p.loaded),
    });
    expect(target.bytes()).toEqual(weights);
    const ranges = hub.requests.filter((r) => r.origin === 'cdn').map((r) => r.range);
    expect(ranges[0]).toBeUndefined();
    expect(ranges[1]).toMatch(/^bytes=\d+-$/);
    expect(Number(/bytes=(\d+)-/.exec(ranges[1]!)![1])).toBeGreaterThanOrEqual(1);
    expect(progress.at(-1)).toBe(weights.length);
    expect(target.resets).toBe(0);
  });

  it('retries 5xx answers and honours Retry-After on 429', async () => {
    hub.faults.push(
      { match: '/revision/', status: 503, times: 2 },
      { match: '/revision/', status: 429, retryAfter: '0', times: 1 },
    );
    expect((await client.revision('EleutherAI/pythia-tiny', 'main')).commit).toBe(COMMIT_B);
    expect(hub.requests.filter((r) => r.url.includes('/revision/'))).toHaveLength(4);
  });
});

describe('HubClient errors', () => {
  it('names the missing repo, revision or file', async () => {
    await expect(client.revision('EleutherAI/pythia-nope', 'main')).rejects.toThrow(
      RepoNotFoundError,
    );
    await expect(client.revision('EleutherAI/pythia-tiny', 'step99')).rejects.toThrow(
      RevisionNotFoundError,
    );
    await expect(client.revision('EleutherAI/pythia-tiny', 'step99')).rejects.toThrow(
      /no revision step99; Pythia checkpoints are/,
    );
    const missing = client.download(
      'EleutherAI/pythia-tiny',
      'main',
      'nope.json',
      new MemoryTarget(),
    );
    await expect(missing).rejects.toThrow(EntryNotFoundError);
  });

  it('explains a gated repo, and reads it with the right token', async () => {
    await expect(client.revision('EleutherAI/gated', 'main')).rejects.toThrow(HubAccessError);
    await expect(client.revision('EleutherAI/gated', 'main')).rejects.toThrow(/set HF_TOKEN/);
    const authorized = new HubClient({ endpoint: hub.hubOrigin, token: 'hf_secret' });
    expect((await authorized.revision('EleutherAI/gated', 'main')).commit).toBe(COMMIT_A);
  });

  it('gives up with a network error after the retries', async () => {
    hub.faults.push({ match: '/revision/', status: 500, times: 10 });
    const attempt = client.revision('EleutherAI/pythia-tiny', 'main');
    await expect(attempt).rejects.toThrow(HubNetworkError);
    await expect(client.revision('EleutherAI/pythia-tiny', 'main')).rejects.toThrow(
      /after 4 attempts/,
    );
  });

  it('reports an unreachable Hub as a network error', async () => {
    const nowhere = new HubClient({ endpoint: 'http://127.0.0.1:9', retries: 1, retryDelayMs: 1 });
    await expect(nowhere.revision('EleutherAI/pythia-tiny', 'main')).rejects.toThrow(
      /could not fetch .* after 2 attempts/,
    );
  });
});
