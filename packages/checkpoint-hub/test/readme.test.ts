import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveTestPage } from '@pythiajs/vitest-config/browser-page';
import { launchChromium } from '@pythiajs/vitest-config/chromium';
import {
  checkReadmeBlocks,
  type ReadmeBlock,
  runReadmeExample,
} from '@pythiajs/vitest-config/readme-example';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, beforeAll, expect } from 'vitest';
import { FakeHub } from '../src/testing/index.js';
import { type StorageSpec, type TensorSpec, writeTorchZip } from './support/torch-zip-writer.js';

// What the example opens, pythia-70m-deduped@step3000, as far as it looks: a `.bin` (as the
// step branches of the real repo are) with layer 0's fused QKV weight at its real shape and the
// three legacy buffers of each of its 6 layers, which are skipped unread.
const COMMIT = '3'.repeat(40);
const QKV = 'gpt_neox.layers.0.attention.query_key_value.weight';
const CONFIG = JSON.stringify({ model_type: 'gpt_neox', hidden_size: 512 });

function pythia70mBin(): Uint8Array {
  const storages: StorageSpec[] = [
    { key: 'qkv', type: 'HalfStorage', bytes: new Uint8Array(1536 * 512 * 2) },
    { key: 'mask', type: 'BoolStorage', bytes: new Uint8Array(16).fill(1) },
    { key: 'fill', type: 'FloatStorage', bytes: new Uint8Array(4) },
    { key: 'freq', type: 'FloatStorage', bytes: new Uint8Array(8 * 4) },
  ];
  const tensors: TensorSpec[] = [{ name: QKV, storage: 'qkv', shape: [1536, 512] }];
  for (let layer = 0; layer < 6; layer++) {
    const at = `gpt_neox.layers.${layer}.attention`;
    tensors.push(
      { name: `${at}.bias`, storage: 'mask', shape: [1, 1, 4, 4] },
      { name: `${at}.masked_bias`, storage: 'fill', shape: [] },
      { name: `${at}.rotary_emb.inv_freq`, storage: 'freq', shape: [8] },
    );
  }
  return writeTorchZip({ tensors, storages });
}

// What the dataset example lists: lambada_openai's Parquet conversion, as far as it looks.
const PARQUET_COMMIT = '4'.repeat(40);
const PARQUET_BYTES = new TextEncoder().encode('PAR1 … PAR1');

// What the rows example reads: piqa's validation split in two shards (it reads only the first).
const PIQA_COMMIT = '6'.repeat(40);
const piqaShard = (goals: string[], labels: bigint[]) =>
  new Uint8Array(
    parquetWriteBuffer({
      columnData: [
        { name: 'goal', data: goals, type: 'STRING' },
        { name: 'sol1', data: goals.map((g) => `${g} (1)`), type: 'STRING' },
        { name: 'sol2', data: goals.map((g) => `${g} (2)`), type: 'STRING' },
        { name: 'label', data: labels, type: 'INT64' },
      ],
    }),
  );

const hub = new FakeHub(
  {
    'EleutherAI/pythia-70m-deduped': {
      branches: { step3000: COMMIT },
      commits: {
        [COMMIT]: {
          'config.json': CONFIG,
          'pytorch_model.bin': pythia70mBin(),
        },
      },
    },
  },
  {
    datasets: {
      'EleutherAI/lambada_openai': {
        branches: { main: '5'.repeat(40), 'refs/convert/parquet': PARQUET_COMMIT },
        commits: {
          ['5'.repeat(40)]: { 'README.md': '# lambada_openai' },
          [PARQUET_COMMIT]: {
            'default/test/0000.parquet': PARQUET_BYTES,
            'de/test/0000.parquet': PARQUET_BYTES,
          },
        },
      },
      'ybisk/piqa': {
        branches: { 'refs/convert/parquet': PIQA_COMMIT },
        commits: {
          [PIQA_COMMIT]: {
            'plain_text/validation/0000.parquet': piqaShard(
              ['How do I ready a guinea pig cage for its new occupants?', 'dresser'],
              [0n, 1n],
            ),
            'plain_text/validation/0001.parquet': piqaShard(['never read'], [1n]),
          },
        },
      },
    },
  },
);
const cache = mkdtempSync(join(tmpdir(), 'readme-hub-cache-'));
beforeAll(() => hub.start());
afterAll(async () => {
  await hub.stop();
  rmSync(cache, { recursive: true, force: true });
});

const README = new URL('../README.md', import.meta.url);

async function runsTheNodeExample(block: ReadmeBlock) {
  const run = await runReadmeExample(README, {
    block: block.index,
    env: { HF_ENDPOINT: hub.hubOrigin, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: undefined },
  });
  expect(run.exitCode).toBe(0);
  expect(run.printed).toEqual(run.promised);
  expect(run.printed[0]).toBe(`bin ${COMMIT} 18`);
  // Progress went to stderr, ending with the weights file and the checkpoint's byte count.
  const last = run.stderr.trim().split('\n').at(-1);
  expect(last).toMatch(/^pytorch_model\.bin: /);
  expect(last).toContain(`${CONFIG.length + pythia70mBin().length}`);
}

async function runsTheDatasetExample(block: ReadmeBlock) {
  const run = await runReadmeExample(README, {
    block: block.index,
    env: { HF_ENDPOINT: hub.hubOrigin, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: undefined },
  });
  expect(run.exitCode).toBe(0);
  expect(run.printed).toEqual(run.promised);
  // The file and the ref lie where huggingface_hub puts them.
  const root = join(cache, 'datasets--EleutherAI--lambada_openai');
  expect(run.printed[1]).toBe(
    join(root, 'snapshots', PARQUET_COMMIT, 'default', 'test', '0000.parquet'),
  );
  expect(readFileSync(join(root, 'refs', 'refs', 'convert', 'parquet'), 'utf8')).toBe(
    PARQUET_COMMIT,
  );
}

async function runsTheRowsExample(block: ReadmeBlock) {
  const before = hub.requests.length;
  const run = await runReadmeExample(README, {
    block: block.index,
    env: { HF_ENDPOINT: hub.hubOrigin, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: undefined },
  });
  expect(run.exitCode).toBe(0);
  expect(run.printed).toEqual(run.promised);
  expect(run.printed[1]).toContain('label: 0');
  // It stopped at its limit, inside the first shard: the second was never downloaded.
  const urls = hub.requests.slice(before).map((r) => r.url);
  expect(urls.some((u) => u.endsWith('0000.parquet'))).toBe(true);
  expect(urls.some((u) => u.endsWith('0001.parquet'))).toBe(false);
}

// The browser example, as a page: its mirror's address becomes the stand-in's origin (another
// origin than the page's, as a mirror's is), and what it opened is handed to the test.
const MIRROR = 'https://hf-mirror.example.org';
const REPORT = `
Object.assign(globalThis, {
  readmeResult: {
    format: checkpoint.format,
    commit: checkpoint.commit,
    tensors: [...checkpoint.tensors].map(([name, t]) => [name, t.dtype, t.shape]),
    skipped: checkpoint.skipped.length,
    qkvBytes: (await checkpoint.read('${QKV}')).length,
    storage: cache.storageKind,
  },
});
`;

async function runsTheBrowserExample(block: ReadmeBlock) {
  expect(block.code).toContain(`'${MIRROR}'`);
  const page = await serveTestPage({
    contents: block.code.replace(`'${MIRROR}'`, JSON.stringify(hub.hubOrigin)) + REPORT,
    resolveDir: new URL('..', import.meta.url),
  });
  const browser = await launchChromium();
  const before = hub.requests.length;
  try {
    const tab = await browser.newPage();
    const errors: Error[] = [];
    tab.on('pageerror', (error) => errors.push(error));
    await tab.goto(page.origin);
    await tab
      .waitForFunction(() => 'readmeResult' in globalThis, undefined, { timeout: 60_000 })
      .catch((e: unknown) => {
        throw errors[0] ?? e;
      });
    expect(errors).toEqual([]);
    const result = await tab.evaluate(
      () => (globalThis as { readmeResult?: unknown }).readmeResult,
    );
    expect(result).toEqual({
      format: 'bin',
      commit: COMMIT,
      tensors: [[QKV, 'F16', [1536, 512]]],
      skipped: 18,
      qkvBytes: 1536 * 512 * 2,
      storage: 'cache-api',
    });
    // It read from the stand-in, as it would from the mirror.
    expect(hub.requests.length).toBeGreaterThan(before);
  } finally {
    await browser.close();
    await page.close();
  }
}

checkReadmeBlocks(README, {
  0: { language: 'bash', skip: 'the install command' },
  1: {
    language: 'js',
    name: '(Node) runs against a local Hub and prints what its comments say',
    test: runsTheNodeExample,
  },
  2: {
    language: 'js',
    name: `(browser) opens the checkpoint in headless Chromium, from the local Hub stand-in's origin in place of ${MIRROR}`,
    test: runsTheBrowserExample,
  },
  3: {
    language: 'js',
    name: '(Node, datasets) lists and downloads a Parquet split from the local Hub into datasets--…',
    test: runsTheDatasetExample,
  },
  4: {
    language: 'js',
    name: '(Node, datasets) reads the first rows of a Parquet split from the local Hub, and JSON Lines',
    test: runsTheRowsExample,
  },
});
