import { serveTestPage, type TestPage } from '@pythiajs/vitest-config/browser-page';
import { launchChromium } from '@pythiajs/vitest-config/chromium';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_CHECKS, type CheckName } from './browser/checks.js';
import type { PageReport } from './browser/page.js';

describe('every op in a browser (headless Chromium, SwiftShader) against its CPU reference', () => {
  let served: TestPage;
  let browser: Browser;
  let report: PageReport;

  beforeAll(async () => {
    served = await serveTestPage(new URL('./browser/page.ts', import.meta.url));
    browser = await launchChromium();
    const page = await browser.newPage();
    await page.goto(served.origin);
    await page.waitForFunction(() => 'runChecks' in globalThis);
    report = await page.evaluate(() =>
      (globalThis as unknown as { runChecks(): Promise<PageReport> }).runChecks(),
    );
  });

  afterAll(async () => {
    await browser?.close();
    await served?.close();
  });

  it('bundles without pulling in the Node-only webgpu package', () => {
    expect(served.bundle).not.toMatch(/from ['"]webgpu['"]/);
    expect(served.bundle).not.toMatch(/require\(['"]webgpu['"]\)/);
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
