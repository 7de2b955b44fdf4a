import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '@pythiajs/vitest-config/chromium';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addReference, geluReference } from '../src/reference/index.js';
import { expectClose, randomFloats } from './numbers.js';

describe('in a browser (headless Chromium, navigator.gpu)', () => {
  let bundle: string;
  let server: Server;
  let browser: Browser;
  let origin: string;

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
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('bundles without pulling in the Node-only webgpu package', () => {
    expect(bundle).not.toMatch(/from ['"]webgpu['"]/);
    expect(bundle).not.toMatch(/require\(['"]webgpu['"]\)/);
  });

  it('runs add and gelu on navigator.gpu with the same results as the CPU references', async () => {
    const page = await browser.newPage();
    await page.goto(origin);
    await page.waitForFunction(() => 'runKernels' in globalThis);
    const a = Array.from(randomFloats(129, 1, -4, 4));
    const b = Array.from(randomFloats(129, 2, -4, 4));
    const result = await page.evaluate(
      ([a, b]) =>
        (
          globalThis as unknown as {
            runKernels(
              a: number[],
              b: number[],
            ): Promise<{
              environment: string;
              shaderF16: boolean;
              sum: number[];
              gelu: number[];
            }>;
          }
        ).runKernels(a, b),
      [a, b] as const,
    );
    expect(result.environment).toBe('browser');
    const sum = addReference(a, b);
    expectClose(result.sum, sum, 1e-5);
    expectClose(result.gelu, geluReference(sum), 1e-5);
  });
});
