// How HubClient behaves when the Hub, a mirror, a proxy or the disk misbehaves: it never hangs,
// it retries what may pass, and every failure says what went wrong and where.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type DownloadTarget,
  HubClient,
  type HubClientOptions,
  HubNetworkError,
  HubResponseError,
  HubTimeoutError,
} from '../src/index.js';
import { FakeHub, type Fault } from '../src/testing/index.js';
import { MemoryTarget } from './support/memory-target.js';

const REPO = 'EleutherAI/pythia-tiny';
const COMMIT = 'c'.repeat(40);
const weights = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251);
const files = {
  'config.json': '{"a":1}',
  'model.safetensors': weights,
  'tokenizer.json': '{}',
  'README.md': '# tiny',
  'sub/notes.txt': 'hello',
};
/** The timeouts of these tests: short, so that giving up takes well under a second. */
const TIMEOUT_MS = 200;

const hub = new FakeHub({ [REPO]: { branches: { main: COMMIT }, commits: { [COMMIT]: files } } });

let client: HubClient;
const clientWith = (options: HubClientOptions = {}) =>
  new HubClient({
    endpoint: hub.hubOrigin,
    retries: 3,
    retryDelayMs: 1,
    timeoutMs: TIMEOUT_MS,
    downloadTimeoutMs: TIMEOUT_MS,
    ...options,
  });

beforeAll(async () => {
  await hub.start();
});
afterAll(() => hub.stop());
beforeEach(() => {
  hub.requests.length = 0;
  hub.faults.length = 0;
  client = clientWith();
});

const cdnRequests = () => hub.requests.filter((r) => r.origin === 'cdn');
const download = (target: DownloadTarget = new MemoryTarget(), c = client) =>
  c.download(REPO, 'main', 'model.safetensors', target, { size: weights.length });
/** The error a promise rejects with, and how long it took. */
async function failure(work: Promise<unknown>): Promise<{ error: Error; ms: number }> {
  const start = performance.now();
  try {
    await work;
  } catch (error) {
    return { error: error as Error, ms: performance.now() - start };
  }
  throw new Error('expected a failure, but it succeeded');
}

describe('a server that goes silent', () => {
  it('gives up on a download whose server sends headers then nothing, after 3 timeouts', async () => {
    hub.faults.push({ match: '/lfs/', stallAfter: 0, times: 10 });
    const { error, ms } = await failure(download());
    expect(error).toBeInstanceOf(HubTimeoutError);
    // Still a network error, so the caches fall back to what they hold.
    expect(error).toBeInstanceOf(HubNetworkError);
    expect(error.message).toMatch(
      /^no bytes for 0.2 s from http:\/\/127.0.0.1:\d+\/EleutherAI\/pythia-tiny\/resolve\/main\/model.safetensors after 3 attempts; .*set HF_HUB_DOWNLOAD_TIMEOUT \(seconds\) to wait longer/,
    );
    // timeoutRetries (default 2) bounds the timeouts even though `retries` allows 3.
    expect(cdnRequests()).toHaveLength(3);
    expect(ms).toBeLessThan(3 * TIMEOUT_MS + 1500);
  });

  it('resumes with a Range request after a stall, and completes', async () => {
    hub.faults.push({ match: '/lfs/', stallAfter: 40_000, times: 1 });
    const target = new MemoryTarget();
    await download(target);
    expect(target.bytes()).toEqual(weights);
    expect(cdnRequests().map((r) => r.range)).toEqual([undefined, 'bytes=40000-']);
    expect(target.resets).toBe(0);
  });

  it('keeps going while each attempt brings new bytes, however many stalls there are', async () => {
    hub.faults.push({ match: '/lfs/', stallAfter: 50_000, times: 5 });
    const target = new MemoryTarget();
    await download(target, clientWith({ retries: 1, timeoutRetries: 1 }));
    expect(target.bytes()).toEqual(weights);
    expect(cdnRequests()).toHaveLength(6);
  });

  it('resumes a stalled range read from the last byte received', async () => {
    hub.faults.push({ match: '/lfs/', stallAfter: 500, times: 1 });
    const bytes = await client.readRange(REPO, 'main', 'model.safetensors', 12_345, 5000);
    expect(bytes).toEqual(weights.subarray(12_345, 17_345));
    expect(cdnRequests().map((r) => r.range)).toEqual(['bytes=12345-17344', 'bytes=12845-17344']);
  });

  it('gives up on an API request that is never answered', async () => {
    hub.faults.push({ match: '/revision/', hang: true, times: 10 });
    const { error, ms } = await failure(client.revision(REPO, 'main'));
    expect(error).toBeInstanceOf(HubTimeoutError);
    expect(error.message).toMatch(
      /^no answer for 0.2 s from .*\/api\/models\/EleutherAI\/pythia-tiny\/revision\/main after 3 attempts; .*HF_HUB_ETAG_TIMEOUT/,
    );
    expect(ms).toBeLessThan(3 * TIMEOUT_MS + 1500);
  });

  it('gives up on an API answer whose body stops half-way', async () => {
    hub.faults.push({ match: '/tree/', stallAfter: 10, times: 10 });
    const { error } = await failure(client.listFiles(REPO, 'main'));
    expect(error).toBeInstanceOf(HubTimeoutError);
    expect(error.message).toMatch(/^no bytes for 0.2 s from .*\/tree\/main\?recursive=true/);
  });

  it('closes the connections it gives up on, and leaves no timer behind', async () => {
    const own = await new FakeHub(hub.repos).start();
    try {
      own.faults.push(
        { match: '/lfs/', stallAfter: 0, times: 3 },
        { match: '/refs', hang: true, times: 3 },
      );
      const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      const before = timers();
      const c = new HubClient({
        endpoint: own.hubOrigin,
        retryDelayMs: 1,
        timeoutMs: 100,
        downloadTimeoutMs: 100,
      });
      await expect(
        c.download(REPO, 'main', 'model.safetensors', new MemoryTarget(), {}),
      ).rejects.toThrow(HubTimeoutError);
      await expect(c.refs(REPO)).rejects.toThrow(HubTimeoutError);
      // Every timeout and backoff timer is cleared (others' timers may have ended meanwhile).
      expect(timers()).toBeLessThanOrEqual(before);
      // The server sees its stalled and unanswered requests closed by the client, not left open.
      await expect.poll(() => own.openAnswers()).toEqual({ hub: 0, cdn: 0 });
    } finally {
      await own.stop();
    }
  });
});

describe('the user cancelling', () => {
  it('aborts a stalled download at once with their reason, not a timeout', async () => {
    hub.faults.push({ match: '/lfs/', stallAfter: 1000, times: 1 });
    const controller = new AbortController();
    const reason = new Error('the user closed the tab');
    const patient = clientWith({ downloadTimeoutMs: 60_000 });
    const work = patient.download(REPO, 'main', 'model.safetensors', new MemoryTarget(), {
      size: weights.length,
      signal: controller.signal,
      onProgress: () => setTimeout(() => controller.abort(reason), 50),
    });
    const { error, ms } = await failure(work);
    expect(error).toBe(reason);
    expect(ms).toBeLessThan(1000);
  });

  it('aborts an API request that is never answered', async () => {
    hub.faults.push({ match: '/refs', hang: true, times: 1 });
    const reason = new Error('cancelled');
    const patient = clientWith({ timeoutMs: 60_000 });
    const { error, ms } = await failure(patient.refs(REPO, AbortSignal.timeout(50)));
    expect(error.name).toBe('TimeoutError'); // the signal's own reason, a DOMException
    expect(error).not.toBeInstanceOf(HubTimeoutError);
    expect(ms).toBeLessThan(1000);
    const controller = new AbortController();
    controller.abort(reason);
    await expect(patient.refs(REPO, controller.signal)).rejects.toBe(reason);
  });
});

describe('a flaky connection', () => {
  it('completes a download cut every 30 KB, since each attempt makes progress', async () => {
    hub.faults.push({ match: '/lfs/', cutAfter: 30_000, times: 100 });
    const target = new MemoryTarget();
    await download(target, clientWith({ retries: 2 }));
    expect(target.bytes()).toEqual(weights);
    expect(cdnRequests().length).toBeGreaterThanOrEqual(10);
  });

  it('fails after retries + 1 attempts when the cuts bring nothing', async () => {
    hub.faults.push({ match: '/lfs/', cutAfter: 0, times: 100 });
    const { error } = await failure(download(new MemoryTarget(), clientWith({ retries: 2 })));
    expect(error).toBeInstanceOf(HubNetworkError);
    expect(error).not.toBeInstanceOf(HubTimeoutError);
    expect(error.message).toMatch(/after 3 attempts/);
    expect(cdnRequests()).toHaveLength(3);
  });
});

describe('a server that ignores Range', () => {
  it('starts again when the server resumes with the whole file instead of the range', async () => {
    hub.faults.push(
      { match: '/lfs/', stallAfter: 40_000, times: 1 },
      { match: '/lfs/', body: weights, times: 1 }, // status 200: the Range was ignored
    );
    const target = new MemoryTarget();
    await download(target);
    expect(target.bytes()).toEqual(weights);
    expect(target.resets).toBe(1);
  });

  it('reads a range from a server that ignores Range and sends the whole file', async () => {
    hub.faults.push({ match: '/lfs/', body: weights, times: 1 });
    const bytes = await client.readRange(REPO, 'main', 'model.safetensors', 250_000, 1000);
    expect(bytes).toEqual(weights.subarray(250_000, 251_000));
  });
});

describe('a listing whose pages loop', () => {
  it('stops at a page that links to itself', async () => {
    hub.faults.push({
      match: '/tree/',
      headers: (url) => ({ Link: `<${hub.hubOrigin}${url}>; rel="next"` }),
      times: 100,
    });
    const { error, ms } = await failure(client.listFiles(REPO, 'main'));
    expect(error).toBeInstanceOf(HubResponseError);
    const first = `${hub.hubOrigin}/api/models/${REPO}/tree/main?recursive=true`;
    expect(error.message).toContain(`the listing's pages loop back to ${first}`);
    expect(hub.requests.filter((r) => r.url.includes('/tree/'))).toHaveLength(1);
    expect(ms).toBeLessThan(1000);
  });

  it('stops at a later page that links back to the first', async () => {
    const first = `${hub.hubOrigin}/api/models/${REPO}/tree/main?recursive=true`;
    hub.faults.push({ match: 'cursor=3', headers: { Link: `<${first}>; rel="next"` }, times: 1 });
    await expect(client.listFiles(REPO, 'main')).rejects.toThrow(`pages loop back to ${first}`);
    expect(hub.requests.filter((r) => r.url.includes('/tree/'))).toHaveLength(2);
  });
});

describe('answers that are not what the Hub API sends', () => {
  const api = (path: string) => `${hub.hubOrigin}/api/models/${REPO}/${path}`;

  /** Each must fail at once (one request) with a HubResponseError naming the URL and endpoint. */
  const cases: Array<{
    what: string;
    call: (c: HubClient) => Promise<unknown>;
    fault: Omit<Fault, 'times'>;
    url: () => string;
    says: RegExp;
  }> = [
    {
      what: 'a body that is not JSON',
      call: (c) => c.revision(REPO, 'main'),
      fault: { match: '/revision/', body: 'Unterminated {"sha": "abc' },
      url: () => api('revision/main'),
      says: /answered something that is not JSON \("Unterminated \{\\"sha\\": \\"abc"\) instead of JSON/,
    },
    {
      what: 'an HTML page with status 200',
      call: (c) => c.listFiles(REPO, 'main'),
      fault: {
        match: '/tree/',
        body: `<!DOCTYPE html><html><head><title>Mirror</title></head>${'x'.repeat(200)}`,
        headers: { 'Content-Type': 'text/html' },
      },
      url: () => api('tree/main?recursive=true'),
      says: /answered an HTML page \("<!DOCTYPE html><html><head><title>Mirror<\/title><\/head>x{5}…"\)/,
    },
    {
      what: 'an empty body',
      call: (c) => c.refs(REPO),
      fault: { match: '/refs', body: '' },
      url: () => api('refs'),
      says: /answered an empty body instead of JSON/,
    },
    {
      what: 'a revision without a sha',
      call: (c) => c.revision(REPO, 'main'),
      fault: { match: '/revision/', json: (a) => ({ ...(a as object), sha: undefined }) },
      url: () => api('revision/main'),
      says: /answered a revision without a commit sha \(sha: missing\)/,
    },
    {
      what: 'siblings that are not a list',
      call: (c) => c.revision(REPO, 'main'),
      fault: { match: '/revision/', json: (a) => ({ ...(a as object), siblings: {} }) },
      url: () => api('revision/main'),
      says: /answered siblings that are not a list \(\{\}\)/,
    },
    {
      what: 'a tree page that is an object',
      call: (c) => c.listFiles(REPO, 'main'),
      fault: { match: '/tree/', json: () => ({ error: 'Invalid cursor' }) },
      url: () => api('tree/main?recursive=true'),
      says: /answered a tree page that is not a list of entries \(\{"error":"Invalid cursor"\}\)/,
    },
    {
      what: 'a size that is not a number',
      call: (c) => c.listFiles(REPO, 'main'),
      fault: {
        match: '/tree/',
        json: (page) => (page as Array<{ size: number }>).map((e) => ({ ...e, size: `${e.size}` })),
      },
      url: () => api('tree/main?recursive=true'),
      says: /answered \S+ with a size of "\d+", not a byte count/,
    },
    {
      what: 'a negative size',
      call: (c) => c.listFiles(REPO, 'main'),
      fault: {
        match: '/tree/',
        json: (page) => (page as object[]).map((e) => ({ ...e, size: -1 })),
      },
      url: () => api('tree/main?recursive=true'),
      says: /with a size of -1, not a byte count/,
    },
    {
      what: 'a path that is not a string',
      call: (c) => c.listFiles(REPO, 'main'),
      fault: {
        match: '/tree/',
        json: (page) => (page as object[]).map((e) => ({ ...e, path: 7 })),
      },
      url: () => api('tree/main?recursive=true'),
      says: /answered a tree entry 0 whose path is 7, not a string/,
    },
    {
      what: 'LFS details without a sha256',
      call: (c) => c.listFiles(REPO, 'main'),
      fault: {
        match: '/tree/',
        json: (page) =>
          (page as Array<{ lfs?: object }>).map((e) => (e.lfs ? { ...e, lfs: { size: 1 } } : e)),
      },
      url: () => api('tree/main?recursive=true'),
      says: /answered model.safetensors with LFS details \{"size":1\}/,
    },
    {
      what: 'refs whose branches are not a list',
      call: (c) => c.refs(REPO),
      fault: { match: '/refs', json: () => ({ branches: 'main' }) },
      url: () => api('refs'),
      says: /answered branches that are not a list \("main"\)/,
    },
    {
      what: 'a branch without a target commit',
      call: (c) => c.refs(REPO),
      fault: { match: '/refs', json: () => ({ branches: [{ name: 'main' }] }) },
      url: () => api('refs'),
      says: /answered branches\[0\] without a string name and targetCommit/,
    },
  ];

  it.each(cases)('$what', async ({ call, fault, url, says }) => {
    // pageSize large enough that the rewritten page is the only one.
    hub.pageSize = 100;
    try {
      hub.faults.push({ ...fault, times: 1 });
      const { error } = await failure(call(client));
      expect(error).toBeInstanceOf(HubResponseError);
      expect((error as HubResponseError).url).toBe(url());
      expect(error.message).toMatch(says);
      expect(error.message).toContain(`${url()} answered`);
      expect(error.message).toContain(`is HF_ENDPOINT (${hub.hubOrigin}) a Hugging Face Hub`);
      expect(hub.requests).toHaveLength(1);
    } finally {
      hub.pageSize = 3;
    }
  });

  it('reports an HTML page with status 500 as such, after the retries', async () => {
    hub.faults.push({
      match: '/revision/',
      status: 500,
      body: '<html><h1>Oops</h1></html>',
      times: 10,
    });
    const { error } = await failure(client.revision(REPO, 'main'));
    expect(error).toBeInstanceOf(HubResponseError);
    expect(error.message).toMatch(
      /revision\/main answered HTTP 500 with an HTML page \("<html><h1>Oops<\/h1><\/html>"\) after 4 attempts; is HF_ENDPOINT/,
    );
    expect(hub.requests).toHaveLength(4);
  });

  it.each([429, 502, 503, 504])(
    "keeps a gateway's HTML page with status %i a network error: the Hub is busy or down, not wrong",
    async (status) => {
      hub.faults.push({ match: '/revision/', status, body: '<html>Unavailable</html>', times: 10 });
      const { error } = await failure(client.revision(REPO, 'main'));
      expect(error).toBeInstanceOf(HubNetworkError);
      expect(error.message).toContain(
        `after 4 attempts (HTTP ${status} "<html>Unavailable</html>")`,
      );
    },
  );
});

describe('a failing disk', () => {
  /** A target that fails as a full or read-only disk does. */
  class FailingTarget extends MemoryTarget {
    constructor(readonly error: Error) {
      super();
    }
    override append(): void {
      throw this.error;
    }
  }

  it.each(['ENOSPC', 'EROFS', 'EACCES', 'EPERM'])(
    'rethrows the %s error of the target unchanged, without retrying',
    async (code) => {
      const error = Object.assign(new Error(`${code}: cannot write`), { code });
      const { error: thrown } = await failure(download(new FailingTarget(error)));
      expect(thrown).toBe(error);
      expect(cdnRequests()).toHaveLength(1);
    },
  );

  it('rethrows an error of the progress callback unchanged, without retrying', async () => {
    const error = new Error('the progress bar broke');
    const work = client.download(REPO, 'main', 'model.safetensors', new MemoryTarget(), {
      onProgress: () => {
        throw error;
      },
    });
    await expect(work).rejects.toBe(error);
    expect(cdnRequests()).toHaveLength(1);
  });
});

describe('timeouts from the environment', () => {
  const saved = {
    HF_HUB_DOWNLOAD_TIMEOUT: process.env.HF_HUB_DOWNLOAD_TIMEOUT,
    HF_HUB_ETAG_TIMEOUT: process.env.HF_HUB_ETAG_TIMEOUT,
  };
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  const fromEnv = () => new HubClient({ endpoint: hub.hubOrigin, retryDelayMs: 1, retries: 0 });

  it('honours HF_HUB_DOWNLOAD_TIMEOUT (seconds) for file content', async () => {
    process.env.HF_HUB_DOWNLOAD_TIMEOUT = '0.15';
    hub.faults.push({ match: '/lfs/', stallAfter: 0, times: 1 });
    const { error, ms } = await failure(download(new MemoryTarget(), fromEnv()));
    expect(error).toBeInstanceOf(HubTimeoutError);
    expect(error.message).toMatch(
      /^no bytes for 0.15 s .* after 1 attempt; .*HF_HUB_DOWNLOAD_TIMEOUT/,
    );
    expect(ms).toBeLessThan(1500);
  });

  it('honours HF_HUB_ETAG_TIMEOUT (seconds) for API requests', async () => {
    process.env.HF_HUB_ETAG_TIMEOUT = '0.15';
    process.env.HF_HUB_DOWNLOAD_TIMEOUT = '60';
    hub.faults.push({ match: '/revision/', hang: true, times: 1 });
    const { error, ms } = await failure(fromEnv().revision(REPO, 'main'));
    expect(error).toBeInstanceOf(HubTimeoutError);
    expect(error.message).toMatch(/^no answer for 0.15 s .*HF_HUB_ETAG_TIMEOUT/);
    expect(ms).toBeLessThan(1500);
  });

  it('lets the constructor options win over the environment', async () => {
    process.env.HF_HUB_ETAG_TIMEOUT = '60';
    hub.faults.push({ match: '/refs', hang: true, times: 1 });
    const c = new HubClient({ endpoint: hub.hubOrigin, retries: 0, timeoutMs: 100 });
    await expect(c.refs(REPO)).rejects.toThrow(/^no answer for 0.1 s/);
  });
});
