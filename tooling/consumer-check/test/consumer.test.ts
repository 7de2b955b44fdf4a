import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium } from '@pythiajs/vitest-config/chromium';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsumerProject } from './support/consumer-project.js';
import { packAll, publishedPackages, workspaceRoot } from './support/pack.js';
import { run } from './support/run.js';
import { serveFolder } from './support/static-server.js';

// A downstream author's view of the packages: `pnpm pack` every published package, install the
// tarballs into a fresh project outside the workspace, and use them there (consumer/ holds the
// project's files). The steps run in order: each builds on what the one before made.

const fixture = join(workspaceRoot, 'fixtures/tiny-neox-f16');
const golden = JSON.parse(readFileSync(join(fixture, 'golden.json'), 'utf8')).cases[0];

const scratch = mkdtempSync(join(tmpdir(), 'pythiajs-consumer-'));
const project = join(scratch, 'project');
let tarballs: Map<string, string>;

const inProject = (command: string, args: string[], env?: Record<string, string | undefined>) =>
  run(join(project, 'node_modules/.bin', command), args, { cwd: project, env, allowFailure: true });

/** Every `.d.ts` file that an installed package of ours ships. */
function shippedDeclarations(): string[] {
  const files: string[] = [];
  for (const name of publishedPackages().keys()) {
    const dir = join(project, 'node_modules', name);
    for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
      if (entry.endsWith('.d.ts')) files.push(join(dir, entry));
    }
  }
  return files;
}

beforeAll(async () => {
  const packs = join(scratch, 'packs');
  mkdirSync(packs);
  mkdirSync(project);
  tarballs = await packAll(packs);
  await createConsumerProject(project, tarballs);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the packed packages, installed into a fresh project', () => {
  it('are the seven published packages', () => {
    expect([...tarballs.keys()].sort()).toEqual([
      '@pythiajs/checkpoint-hub',
      '@pythiajs/cli',
      '@pythiajs/evals',
      '@pythiajs/neox-model',
      '@pythiajs/sampler',
      '@pythiajs/tensor-core',
      '@pythiajs/tokenizer',
    ]);
  });

  it('ship declarations without internal members, and say where the WebGPU types come from', () => {
    const declarations = shippedDeclarations();
    expect(declarations.length).toBeGreaterThan(50);
    const internal = declarations.filter((f) => readFileSync(f, 'utf8').includes('@internal'));
    expect(internal).toEqual([]);
    const tensorCore = join(project, 'node_modules/@pythiajs/tensor-core');
    expect(readFileSync(join(tensorCore, 'dist/index.d.ts'), 'utf8')).toMatch(
      /^\/\/\/ <reference types="@webgpu\/types" preserve="true" \/>\n/,
    );
    const manifest = JSON.parse(readFileSync(join(tensorCore, 'package.json'), 'utf8'));
    expect(manifest.dependencies).toHaveProperty('@webgpu/types');
  });

  it('compile in a strict Node program (NodeNext, skipLibCheck off), emitting what the next step runs', async () => {
    const tsc = await inProject('tsc', ['-p', 'tsconfig.node.json']);
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.code).toBe(0);
  });

  it('compile in a strict browser entry (bundler resolution, no Node types, skipLibCheck off)', async () => {
    const tsc = await inProject('tsc', ['-p', 'tsconfig.bundler.json']);
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.code).toBe(0);
  });

  it('run in Node on the machine’s adapter and compute what the references say', async () => {
    const cache = join(scratch, 'hf-cache');
    const node = await run(process.execPath, ['dist/node.js', fixture, cache], {
      cwd: project,
      env: { HF_HUB_OFFLINE: undefined, HF_TOKEN: undefined },
    });
    const result = JSON.parse(node.stdout.trim().split('\n').at(-1)!);
    expect(result.ids).toEqual([12092, 13, 309, 717]);
    expect(result.text).toBe('Hello, I am');
    expect(result.ref).toEqual({ repo: 'EleutherAI/pythia-70m-deduped', revision: 'step3000' });
    expect(result.hub).toEqual({
      format: 'safetensors',
      commit: 'c'.repeat(40),
      embedIn: [50304, 32],
    });
    result.gelu.forEach((value: number, i: number) => {
      expect(value).toBeCloseTo(result.geluReference[i], 6);
    });
    expect(result.vocab).toBe(50304);
    // The float64 reference's greedy token after "Hello, I am".
    expect(result.next).toBe(golden.greedy[0]);
  });

  it('bundle for browsers with Vite, with no Node-only module in the bundle', async () => {
    const vite = await inProject('vite', ['build', '--outDir', 'web', '--emptyOutDir']);
    expect(vite.stderr).not.toMatch(/externalized for browser compatibility/);
    expect(vite.code).toBe(0);
    const assets = join(project, 'web/assets');
    const code = readdirSync(assets)
      .filter((f) => f.endsWith('.js'))
      .map((f) => readFileSync(join(assets, f), 'utf8'))
      .join('\n');
    expect(code).toContain('Hello, I am');
    // Static or dynamic imports of Node's modules or of Dawn, and Vite's stand-in for them.
    const nodeOnly =
      /(?:from|import)\s*\(?\s*["'](?:node:[\w/]+|fs|fs\/promises|path|os|crypto|child_process|webgpu)["']|__vite-browser-external/g;
    expect(code.match(nodeOnly) ?? []).toEqual([]);
  });

  it('run that bundle in headless Chromium (WebGPU on SwiftShader)', async () => {
    const site = await serveFolder(join(project, 'web'));
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(site.origin);
      await page.waitForSelector('body[data-result], body[data-error]', { state: 'attached' });
      expect(await page.getAttribute('body', 'data-error')).toBeNull();
      const result = JSON.parse((await page.getAttribute('body', 'data-result'))!);
      expect(result).toEqual({
        ids: [12092, 13, 309, 717],
        next: 1,
        ref: { repo: 'EleutherAI/pythia-160m', revision: 'step1000' },
        sum: [2, 4, 6],
        canLoadModels: true,
      });
    } finally {
      await browser.close();
      await site.close();
    }
  });

  it('give a working `pythia` command from the cli tarball', async () => {
    const pythia = await inProject('pythia', ['tokenize', 'Hello, I am']);
    expect(pythia.stderr).toBe('');
    expect(pythia.stdout).toBe('12092,13,309,717\n');
    expect(pythia.code).toBe(0);
  });
});
