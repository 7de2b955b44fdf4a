import { readFileSync } from 'node:fs';
import { serveTestPage, type TestPage } from '@pythiajs/vitest-config/browser-page';
import { launchChromium } from '@pythiajs/vitest-config/chromium';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource, readSafetensorsHeader } from '../src/index.js';
import { FakeHub } from '../src/testing/index.js';

const fixture = (f: string) =>
  new Uint8Array(readFileSync(new URL(`../../../fixtures/tiny-neox-f16/${f}`, import.meta.url)));
const COMMIT = 'c'.repeat(40);
const weights = fixture('model.safetensors');
const hub = new FakeHub({
  'test/tiny-neox-f16': {
    branches: { main: COMMIT },
    commits: { [COMMIT]: { 'config.json': fixture('config.json'), 'model.safetensors': weights } },
  },
});

let served: TestPage;
let origin: string;
let browser: Browser;

beforeAll(async () => {
  await hub.start();
  hub.pageSize = 100;
  served = await serveTestPage(new URL('./browser/page.ts', import.meta.url));
  origin = served.origin;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await served?.close();
  await hub.stop();
});

async function page(context: Awaited<ReturnType<Browser['newContext']>>): Promise<Page> {
  const p = await context.newPage();
  await p.goto(origin);
  await p.waitForFunction(() => 'run' in globalThis);
  return p;
}

type Result = {
  storage: string;
  format: string;
  commit: string;
  tensors: number;
  bytes: number[];
  totals: number[];
  last: number;
  list: Array<{ repo: string; refs: string[]; size: number; complete: boolean }>;
};

/** Opens the test page in `context` and runs a checkpoint load in it. */
async function runPage(
  context: Awaited<ReturnType<Browser['newContext']>>,
  options: { endpoint: string; offline: boolean; storage: 'default' | 'opfs' | 'memory' },
): Promise<Result> {
  return (await (
    await page(context)
  ).evaluate(
    (o) => (globalThis as unknown as { run: (o: object) => Promise<unknown> }).run(o),
    options,
  )) as Result;
}

describe('BrowserHubCache in headless Chromium', () => {
  it('downloads and verifies once, then serves a reload from the Cache API, even offline', async () => {
    const { tensors } = await readSafetensorsHeader(bytesSource(weights), 'model.safetensors');
    const entry = tensors.find((t) => t.name === 'gpt_neox.final_layer_norm.weight')!;
    const expected = Array.from(weights.subarray(entry.offset, entry.offset + entry.byteLength));

    const context = await browser.newContext();
    const first = await runPage(context, {
      endpoint: hub.hubOrigin,
      offline: false,
      storage: 'default',
    });
    expect(first).toMatchObject({
      storage: 'cache-api',
      format: 'safetensors',
      commit: COMMIT,
      tensors: 28,
      bytes: expected,
    });
    expect(first.totals).toEqual([weights.length + fixture('config.json').length]);
    expect(first.last).toBe(first.totals[0]);
    expect(first.list).toEqual([
      {
        repo: 'test/tiny-neox-f16',
        commit: COMMIT,
        refs: ['main'],
        size: first.totals[0],
        complete: true,
      },
    ]);
    const weightRequests = () =>
      hub.requests.filter((r) => r.url.includes('model.safetensors') || r.url.includes('/lfs/'))
        .length;
    const downloads = weightRequests();
    expect(downloads).toBeGreaterThan(0);

    // A reload: the weights come from the cache, not the server.
    const second = await runPage(context, {
      endpoint: hub.hubOrigin,
      offline: false,
      storage: 'default',
    });
    expect(second.bytes).toEqual(expected);
    expect(weightRequests()).toBe(downloads);

    // Offline, against a Hub that does not answer at all.
    const third = await runPage(context, {
      endpoint: 'http://127.0.0.1:9',
      offline: true,
      storage: 'default',
    });
    expect(third.bytes).toEqual(expected);

    const left = await (await page(context)).evaluate(
      (endpoint) =>
        (globalThis as unknown as { remove: (e: string) => Promise<unknown[]> }).remove(endpoint),
      hub.hubOrigin,
    );
    expect(left).toEqual([]);
    await context.close();
  });

  it('says it could not list every file where the Hub hides its next-page links from the page', async () => {
    // A mirror whose CORS headers expose everything but Link: the page sees one page of the
    // listing and no sign of the next.
    hub.pageSize = 1;
    hub.faults.push({
      match: '/tree/',
      headers: {
        'Access-Control-Expose-Headers':
          'Content-Range, Content-Length, ETag, X-Error-Code, X-Repo-Commit, X-Linked-Etag, X-Linked-Size',
      },
      times: 1,
    });
    const context = await browser.newContext();
    try {
      const error = await runPage(context, {
        endpoint: hub.hubOrigin,
        offline: false,
        storage: 'memory',
      }).catch((e: unknown) => e as Error);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toContain(
        `could not list all files of test/tiny-neox-f16@${COMMIT}: the listing ended after 1 of its 2 files`,
      );
      expect((error as Error).message).not.toMatch(/has no file/);
    } finally {
      hub.pageSize = 100;
      hub.faults.length = 0;
      await context.close();
    }
  });

  it('works the same on the Origin Private File System', async () => {
    const context = await browser.newContext();
    const result = await runPage(context, {
      endpoint: hub.hubOrigin,
      offline: false,
      storage: 'opfs',
    });
    expect(result).toMatchObject({ storage: 'opfs', tensors: 28 });
    expect(result.list[0]?.complete).toBe(true);
    await context.close();
  });
});

describe('downloads stream into the browser storage, a chunk in memory', () => {
  type Streamed = {
    bytes?: number[];
    error?: string;
    puts: string[];
    streams: string[];
    list: Array<{ complete: boolean }>;
  };
  const streamedIn = async (
    context: Awaited<ReturnType<Browser['newContext']>>,
    storage: 'cache-api' | 'opfs',
  ) =>
    (await (
      await page(context)
    ).evaluate(
      (o) => (globalThis as unknown as { streamed: (o: object) => Promise<unknown> }).streamed(o),
      { endpoint: hub.hubOrigin, storage },
    )) as Streamed;

  for (const storage of ['cache-api', 'opfs'] as const) {
    it(`${storage}: the weights are written as they arrive, never put whole; a download cut short goes on into the same entry`, async () => {
      const { tensors } = await readSafetensorsHeader(bytesSource(weights), 'model.safetensors');
      const entry = tensors.find((t) => t.name === 'gpt_neox.final_layer_norm.weight')!;
      const expected = Array.from(weights.subarray(entry.offset, entry.offset + entry.byteLength));
      // The first answer for the weights stops after 10 000 bytes; the client resumes with Range.
      hub.faults.push({ match: '/lfs/', cutAfter: 10_000, times: 1 });
      const earlier = hub.requests.length;
      const context = await browser.newContext();
      try {
        const result = await streamedIn(context, storage);
        expect(result.error).toBeUndefined();
        expect(result.bytes).toEqual(expected);
        expect(result.streams.filter((k) => k.startsWith('blobs/'))).toHaveLength(2);
        expect(result.puts.filter((k) => k.startsWith('blobs/'))).toEqual([]);
        expect(result.list.map((r) => r.complete)).toEqual([true]);
        // Fetched again after the cut: from what arrived before it (at most the 10 000 bytes
        // sent; the browser may drop what it had not read when the connection resets).
        const lfs = hub.requests.slice(earlier).filter((r) => r.url.includes('/lfs/'));
        expect(lfs).toHaveLength(2);
        const resumedAt = Number(lfs[1]!.range?.match(/^bytes=(\d+)-$/)?.[1] ?? 0);
        expect(resumedAt).toBeLessThanOrEqual(10_000);
      } finally {
        hub.faults.length = 0;
        await context.close();
      }
    });

    it(`${storage}: a file that fails its checksum is not stored, and the next load fetches it again`, async () => {
      const corrupt = weights.slice();
      corrupt[corrupt.length - 1] = corrupt.at(-1)! ^ 0xff;
      hub.faults.push({ match: '/lfs/', body: corrupt, times: 3 });
      const context = await browser.newContext();
      try {
        const failed = await streamedIn(context, storage);
        expect(failed.error).toBe('IntegrityError');
        expect(failed.list.every((r) => !r.complete)).toBe(true);
        hub.faults.length = 0;
        const again = await streamedIn(context, storage);
        expect(again.error).toBeUndefined();
        expect(again.list.map((r) => r.complete)).toEqual([true]);
      } finally {
        hub.faults.length = 0;
        await context.close();
      }
    });
  }
});

describe('opfsDerivedStore in headless Chromium', () => {
  it('a file is visible once closed, reads back at any range, and an aborted one leaves nothing', async () => {
    const context = await browser.newContext();
    const result = await (await page(context)).evaluate(() =>
      (globalThis as unknown as { derived: () => Promise<unknown> }).derived(),
    );
    expect(result).toEqual({
      kind: 'opfs',
      beforeClose: null,
      size: 6,
      read: [2, 3, 4, 5],
      afterAbort: null,
      deleted: true,
    });
    await context.close();
  });
});
