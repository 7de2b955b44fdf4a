import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '@pythiajs/vitest-config/chromium';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type SiteServer, startSiteServer, unusedPort } from './support/site-server.js';

const demoDir = fileURLToPath(new URL('..', import.meta.url));
const tokenizerJson = fileURLToPath(
  new URL('../../../fixtures/gpt-neox-20b/tokenizer.json', import.meta.url),
);
const screenshot = join(demoDir, 'test-results', 'demo.png');

let site: SiteServer;
let browser: Browser;
let pages: Page[] = [];

beforeAll(async () => {
  await buildSite();
  site = await startSiteServer(join(demoDir, 'dist'), tokenizerJson);
  browser = await launchChromium();
});

afterEach(async () => {
  await Promise.all(pages.map((page) => page.close()));
  pages = [];
});

afterAll(async () => {
  await browser?.close();
  await site?.close();
});

describe('the demo site in headless Chromium', () => {
  it('tokenizes the prompt from the query string into the Hugging Face ids', async () => {
    const { page, errors } = await openDemo(`?hub=${site.origin}&prompt=Hello%2C%20I%20am`);
    await waitForReady(page);

    expect(await text(page, 'ids')).toBe('12092, 13, 309, 717');
    expect(await text(page, 'count')).toBe('4 tokens, 11 characters');
    const tokens = await tokenSpans(page);
    expect(tokens.map((token) => token.id)).toEqual(['12092', '13', '309', '717']);
    expect(tokens.map((token) => token.text)).toEqual(['Hello', ',', ' I', ' am']);
    // Hovering shows a token's id and its byte-level spelling.
    expect(tokens[2]?.title).toBe('309  "ĠI"');
    expect(site.hubRequests).toContain(
      '/EleutherAI/pythia-70m-deduped/resolve/main/tokenizer.json',
    );
    expect(errors).toEqual([]);
  });

  it('tokenizes again as the user types', async () => {
    const { page, errors } = await openDemo(`?hub=${site.origin}&prompt=Hello%2C%20I%20am`);
    await waitForReady(page);
    const prompt = page.getByTestId('prompt');

    await prompt.fill('a    b');
    await waitForText(page, 'ids', '66, 50274, 67');
    expect((await tokenSpans(page)).map((token) => token.text)).toEqual(['a', '    ', 'b']);

    // An emoji is three byte tokens; each still gets its own span.
    await prompt.fill(' this is 🦙.cpp');
    await waitForText(page, 'ids', '436, 310, 22692, 101, 236, 15, 14161');
    expect((await tokenSpans(page)).map((token) => token.id)).toEqual([
      '436',
      '310',
      '22692',
      '101',
      '236',
      '15',
      '14161',
    ]);

    // Typed key by key, as a person would. (No emoji here: this Chromium has no emoji font.)
    await prompt.fill('');
    await prompt.pressSequentially(
      'Hello, I am Pythia, a naïve language model\nrunning    on WebGPU ✓',
    );
    const ids = (await text(page, 'ids')).split(', ');
    expect(await tokenSpans(page)).toHaveLength(ids.length);
    expect(ids.slice(0, 4)).toEqual(['12092', '13', '309', '717']);

    await mkdir(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(errors).toEqual([]);
  });

  it('downloads tokenizer.json of the model and revision named in the query', async () => {
    const { page } = await openDemo(
      `?hub=${site.origin}&model=EleutherAI/pythia-160m&revision=step1000&prompt=Hi`,
    );
    await waitForReady(page);

    expect(site.hubRequests).toContain('/EleutherAI/pythia-160m/resolve/step1000/tokenizer.json');
    expect(await text(page, 'source')).toBe(
      `EleutherAI/pythia-160m @ step1000 from ${site.origin}`,
    );
    expect(await text(page, 'ids')).toBe('12764');
  });

  it('reports the adapter and its shader-f16 support as the page itself sees them', async () => {
    const { page, errors } = await openDemo(`?hub=${site.origin}`);
    const panel = page.getByTestId('webgpu');
    await page.waitForSelector('[data-testid="webgpu"]:not([data-state="checking"])');

    const seen = await page.evaluate(async () => {
      const adapter = await navigator.gpu?.requestAdapter();
      return {
        hasGpu: 'gpu' in navigator,
        granted: adapter != null,
        f16: adapter?.features.has('shader-f16') ?? false,
        names: adapter ? [adapter.info.description, adapter.info.vendor] : [],
      };
    });
    // This Chromium gives SwiftShader, a software adapter, to headless pages.
    expect(seen.hasGpu).toBe(true);
    expect(seen.granted).toBe(true);

    expect(await panel.getAttribute('data-state')).toBe('ready');
    expect(await panel.getAttribute('data-adapter')).toBe('granted');
    expect(await panel.getAttribute('data-f16')).toBe(seen.f16 ? 'available' : 'unavailable');
    const shown = (await panel.textContent()) ?? '';
    expect(shown).toContain('available (navigator.gpu)');
    expect(shown).toMatch(seen.f16 ? /shader-f16available/ : /shader-f16unavailable/);
    const name = seen.names.find((part) => part !== '');
    if (name) expect(shown).toContain(name);
    expect(errors).toEqual([]);
  });

  it('shows an error, not an endless "Loading", when the Hub cannot be reached', async () => {
    const deadHub = `http://127.0.0.1:${await unusedPort()}`;
    const { page } = await openDemo(`?hub=${deadHub}&prompt=Hello`);

    await page.waitForSelector('[data-testid="status"][data-state="error"]', { timeout: 60_000 });
    const status = await text(page, 'status');
    expect(status).toContain(
      `${deadHub}/EleutherAI/pythia-70m-deduped/resolve/main/tokenizer.json`,
    );
    expect(status).toContain('network access to the Hugging Face Hub');
    expect(status).toContain('?hub=');
    expect(await tokenSpans(page)).toEqual([]);
    // The WebGPU panel does not depend on the Hub.
    await page.waitForSelector('[data-testid="webgpu"][data-state="ready"]');
  });
});

/** `vite build` as `pnpm --filter @pythiajs/demo build` runs it, in its own process. */
async function buildSite(): Promise<void> {
  const vite = join(
    dirname(createRequire(import.meta.url).resolve('vite/package.json')),
    'bin',
    'vite.js',
  );
  // vitest sets NODE_ENV=test, which would make Vite build for development.
  const { NODE_ENV: _, ...env } = process.env;
  const child = spawn(process.execPath, [vite, 'build', '--logLevel', 'warn'], {
    cwd: demoDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new Error(`vite build exited with ${code}:\n${output}`);
}

async function openDemo(query: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  pages.push(page);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${site.origin}/${query}`);
  return { page, errors };
}

/** Waits for the tokenizer; fails with the page's own message if it shows an error instead. */
async function waitForReady(page: Page): Promise<void> {
  await page.waitForSelector('[data-testid="status"]:not([data-state="loading"])');
  const status = page.getByTestId('status');
  if ((await status.getAttribute('data-state')) !== 'ready') {
    throw new Error(`the page did not load its tokenizer: ${await status.textContent()}`);
  }
}

async function text(page: Page, testId: string): Promise<string> {
  return (await page.getByTestId(testId).textContent()) ?? '';
}

async function waitForText(page: Page, testId: string, expected: string): Promise<void> {
  await page.waitForFunction(
    ([id, want]) => document.querySelector(`[data-testid="${id}"]`)?.textContent === want,
    [testId, expected] as const,
  );
}

async function tokenSpans(page: Page): Promise<Array<{ id: string; text: string; title: string }>> {
  return page.$$eval('[data-testid="tokens"] [data-id]', (spans) =>
    spans.map((span) => ({
      id: span.getAttribute('data-id') ?? '',
      text: span.textContent ?? '',
      title: span.getAttribute('title') ?? '',
    })),
  );
}
