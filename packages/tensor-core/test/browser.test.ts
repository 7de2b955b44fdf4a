import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '@pythiajs/vitest-config/chromium';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_CHECKS, type CheckName } from './browser/checks.js';
import type { PageReport } from './browser/page.js';

describe('every op in a browser (headless Chromium, SwiftShader) against its CPU reference', () => {
  let bundle: string;
  let server: Server;
  let browser: Browser;
  let origin: string;
  let report: PageReport;

  beforeAll(async () => {
    const result = await build({
      entryPoints: [fileURLToPath(new URL('./browser/page.ts', import.meta.url))],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    });
    bundle = result.outputFiles[0]!.text;
    // WebGPU needs a secure context: localhost over http is one, about:blank is not everywhere.
    server = createServer((request, response) => {
      if (request.url === '/page.js') {
        response.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
      } else {
        response
          .writeHead(200, { 'content-type': 'text/html' })
          .end('<!doctype html><script type="module" src="/page.js"></script>');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://localhost:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
    const page = await browser.newPage();
    await page.goto(origin);
    await page.waitForFunction(() => 'runChecks' in globalThis);
    report = await page.evaluate(() =>
      (globalThis as unknown as { runChecks(): Promise<PageReport> }).runChecks(),
    );
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('bundles without pulling in the Node-only webgpu package', () => {
    expect(bundle).not.toMatch(/from ['"]webgpu['"]/);
    expect(bundle).not.toMatch(/require\(['"]webgpu['"]\)/);
  });

  it('runs on navigator.gpu, with f16 tensors on the packed-u32 path (no shader-f16)', () => {
    expect(report.environment).toBe('browser');
    expect(report.shaderF16).toBe(false);
  });

  // One check per op and path; the tolerances are the Node tests' (see browser/checks.ts).
  for (const [name, { title, rtol, atol }] of Object.entries(BROWSER_CHECKS)) {
    it(`${title} matches the CPU reference (rtol ${rtol}, atol ${atol})`, () => {
      const result = report.checks[name as CheckName];
      expect(result, `the page did not run ${name}`).toBeDefined();
      expect(result!.error).toBeUndefined();
      expect(result!.worst).toBeNull();
      expect(result!.elements).toBeGreaterThan(0);
      expect(result!.maxExcess).toBeLessThanOrEqual(0);
    });
  }
});
