import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FakeHub } from '@pythiajs/checkpoint-hub/testing';
import {
  HARNESS_LOGIT_COLUMNS,
  harnessShuffle,
  type LoglikelihoodResult,
  loglikelihoodTokens,
  mean,
  meanStderr,
  officialResults,
  piqa,
  scoreRows,
} from '@pythiajs/evals';
import { NeoXModel, pythiaConfig } from '@pythiajs/neox-model';
import { createDevice } from '@pythiajs/tensor-core';
import { Tokenizer } from '@pythiajs/tokenizer';
import { launchChromium } from '@pythiajs/vitest-config/chromium';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { autoDtype, DEFAULT_GPU_MEMORY, describeFit } from '../src/dtype-fit.js';
import { type SiteServer, startSiteServer, unusedPort } from './support/site-server.js';
import {
  OFFICIAL_REPO,
  PIQA_DATASET,
  PIQA_ROWS,
  startTinyHub,
  TINY_BRANCHES,
  TINY_REPO,
} from './support/tiny-hub.js';

const demoDir = fileURLToPath(new URL('..', import.meta.url));
const fixtures = new URL('../../../fixtures/', import.meta.url);
const screenshot = join(demoDir, 'test-results', 'demo.png');

/** The fixture's float64 reference for "Hello, I am": ids, greedy continuation, top-5. */
const golden = (
  JSON.parse(readFileSync(new URL('tiny-neox-f16/golden.json', fixtures), 'utf8')) as {
    cases: Array<{
      text: string;
      ids: number[];
      greedy: number[];
      top5: number[][];
      token_logprobs: number[];
    }>;
  }
).cases.find((c) => c.text === 'Hello, I am')!;
const tokenizer = Tokenizer.fromJSON(
  readFileSync(new URL('gpt-neox-20b/tokenizer.json', fixtures), 'utf8'),
);

let site: SiteServer;
let hub: FakeHub;
let browser: Browser;
let context: BrowserContext;
/** The first visit: everything downloaded, generated and analysed by `?autorun=1`. */
let first: Visit;

const autorun = () =>
  `?hub=${encodeURIComponent(hub.hubOrigin)}&model=${TINY_REPO}&revision=main` +
  '&prompt=Hello%2C%20I%20am&temperature=0&max_new_tokens=8&autorun=1';

/** Requests for the weights, at the Hub (`resolve`) or at the CDN it redirects to. */
const weightRequests = (from = 0) =>
  hub.requests.slice(from).filter((r) => decodeURIComponent(r.url).includes('model.safetensors'));

beforeAll(async () => {
  await buildSite();
  [site, hub, browser] = await Promise.all([
    startSiteServer(join(demoDir, 'dist')),
    startTinyHub(),
    launchChromium(),
  ]);
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  first = await visit(context, autorun());
  await finishAutorun(first.page);
});

afterAll(async () => {
  await browser?.close();
  await hub?.stop();
  await site?.close();
});

describe('the demo site in headless Chromium (SwiftShader, without shader-f16)', () => {
  it('loads tiny-neox-f16 from the Hub with progress per file and in total, up to 100%', async () => {
    const { page } = first;
    expect(await stateOf(page, 'status')).toBe('ready');
    expect(await text(page, 'status')).toContain(`Ready: ${TINY_REPO} @ main`);
    expect(await text(page, 'status')).toContain('downloaded');
    expect(await page.getByTestId('progress').getAttribute('data-percent')).toBe('100');
    expect(await text(page, 'progress-file')).toMatch(
      /^model\.safetensors: 6\.5 MB of 6\.5 MB \(100%\)$/,
    );
    expect(await text(page, 'progress-total')).toMatch(/^Total: 6\.5 MB of 6\.5 MB \(100%\)$/);
    expect(await text(page, 'progress-gpu')).toMatch(/^To the GPU: tensor (\d+) of \1$/);
    // main has a tokenizer.json of its own, so the page took that one.
    expect(hub.requests.map((r) => r.url)).toContain(
      `/${TINY_REPO}/resolve/${TINY_BRANCHES.main}/tokenizer.json`,
    );
    expect(weightRequests().some((r) => r.origin === 'cdn')).toBe(true);
  });

  it('generates the 8 greedy tokens of the float64 reference at temperature 0', async () => {
    const { page } = first;
    const output = page.getByTestId('output');
    expect(await output.getAttribute('data-state')).toBe('done');
    expect((await output.getAttribute('data-ids'))?.split(',').map(Number)).toEqual(golden.greedy);
    expect(await output.textContent()).toBe(tokenizer.decode(golden.greedy));
    expect(await text(page, 'prompt-echo')).toBe('Hello, I am');
    expect(await text(page, 'speed')).toMatch(
      /^8 tokens in .* · [\d.]+ tokens\/s · .*ended: token limit$/,
    );
  });

  it('runs the packed-f16 path, as this adapter has no shader-f16, and says so', async () => {
    const { page } = first;
    const adapterF16 = await page.evaluate(
      async () => (await navigator.gpu?.requestAdapter())?.features.has('shader-f16') ?? null,
    );
    expect(adapterF16).toBe(false);
    expect(await page.getByTestId('webgpu').getAttribute('data-f16')).toBe('unavailable');
    const info = page.getByTestId('model-info');
    expect(await info.getAttribute('data-shader-f16')).toBe('false');
    expect(await info.textContent()).toContain('2 layers × 2 heads');
    expect(await info.textContent()).toContain('packed u32 pairs (this adapter has no shader-f16)');
  });

  it("draws attention per layer and head over the prompt's 4 tokens", async () => {
    const { page } = first;
    const attention = page.getByTestId('attention');
    expect(await attention.getAttribute('data-state')).toBe('ready');
    expect(await attention.getAttribute('data-layers')).toBe('2');
    expect(await attention.getAttribute('data-heads')).toBe('2');
    expect(await attention.getAttribute('data-tokens')).toBe('4');
    expect(await attention.locator('button.head canvas').count()).toBe(4);

    await attention.getByRole('button', { name: 'Layer 1, head 1' }).click();
    const table = attention.locator('table.heatmap');
    expect(await table.getAttribute('data-layer')).toBe('1');
    expect(await table.getAttribute('data-head')).toBe('1');
    expect(await table.locator('thead th').allTextContents()).toEqual([
      'attending ↓ / to →',
      'Hello',
      ',',
      '·I',
      '·am',
    ]);
    const weights = await table
      .locator('tbody tr')
      .evaluateAll((rows) =>
        rows.map((row) =>
          [...row.querySelectorAll('td')].map((cell) => Number(cell.dataset.weight)),
        ),
      );
    expect(weights).toHaveLength(4);
    weights.forEach((row, dest) => {
      expect(row).toHaveLength(4);
      // Causal: nothing attends to later tokens, and each row is a distribution.
      expect(row.slice(dest + 1).every((w) => w === 0)).toBe(true);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
    });
  });

  it('draws the logit lens: the embedding and both layers × 4 positions', async () => {
    const { page } = first;
    const lens = page.getByTestId('lens');
    expect(await lens.getAttribute('data-state')).toBe('ready');
    expect(await lens.getAttribute('data-rows')).toBe('3');
    expect(await lens.getAttribute('data-positions')).toBe('4');
    const rows = lens.locator('tbody tr');
    expect(await rows.locator('th').allTextContents()).toEqual([
      'embedding',
      'after layer 0',
      'after layer 1',
    ]);
    expect(await rows.locator('td').count()).toBe(12);
    // After the last layer the lens is the model's own prediction: the reference's top 1.
    const lastIds = await rows
      .nth(2)
      .locator('td')
      .evaluateAll((cells) => cells.map((cell) => Number((cell as HTMLElement).dataset.id)));
    expect(lastIds).toEqual(golden.top5.map((top) => top[0]));
    // Under each guess, the probability of the actual next token (none at the last position);
    // after the last layer, the reference's probability of it.
    const nextProbs = await rows
      .nth(2)
      .locator('td')
      .evaluateAll((cells) => cells.map((cell) => (cell as HTMLElement).dataset.nextProb ?? null));
    expect(nextProbs.at(-1)).toBeNull();
    golden.token_logprobs.forEach((logprob, t) => {
      expect(Math.abs(Math.log(Number(nextProbs[t])) - logprob)).toBeLessThan(2e-2);
    });
    // Each cell's title lists the layer's top 5 there, and the actual next token's p and rank.
    const titles = await rows
      .nth(2)
      .locator('td')
      .evaluateAll((cells) => cells.map((c) => (c as HTMLElement).title));
    titles.forEach((title, t) => {
      const top = /\ntop 5: (.*)/.exec(title)?.[1] ?? '';
      expect(top.match(/ \d\.\d{3}(?=, |$)/g)).toHaveLength(5);
      if (t < 3) expect(title).toMatch(/\nactual next ".*": p = .*, rank \d+$/);
    });
  });

  it('runs the prompt across the checkpoints step0, step1000 and main', async () => {
    const { page } = first;
    const across = page.getByTestId('across-training');
    expect(await page.getByTestId('revisions').inputValue()).toBe('step0, step1000, main');
    expect(await across.getAttribute('data-state')).toBe('done');
    const rows = across.locator('tbody tr');
    expect(await rows.evaluateAll((r) => r.map((row) => row.getAttribute('data-state')))).toEqual([
      'done',
      'done',
      'done',
    ]);
    // The same weights on every branch: each row's likeliest next token is the greedy one.
    for (let i = 0; i < 3; i++) {
      expect(await rows.nth(i).locator('.chip').count()).toBe(5);
      expect(await rows.nth(i).locator('.chip').first().getAttribute('data-id')).toBe(
        String(golden.greedy[0]),
      );
    }
    const plot = page.getByTestId('loss-plot');
    expect(await plot.locator('polyline').count()).toBe(3);
    // One loss per token after the first.
    expect(await plot.locator('circle').count()).toBe(3 * 3);
  });

  it('says plainly that pythia-tiny has no official evaluation results, and offers a live run', async () => {
    const { page } = first;
    const plot = page.getByTestId('eval-plot');
    expect(await plot.getAttribute('data-state')).toBe('no-official');
    expect(await plot.locator('svg').count()).toBe(0);
    expect(await text(page, 'eval-note')).toMatch(
      new RegExp(
        `^EleutherAI published no per-checkpoint results for ${TINY_REPO}: they cover pythia-70m, pythia-160m and pythia-410m`,
      ),
    );
    expect(await page.getByTestId('run-eval').isEnabled()).toBe(true);
    expect(await text(page, 'run-eval')).toBe('Run 50 examples on this checkpoint');
    // Nothing was run, so no dataset was asked for.
    expect(hub.requests.some((r) => r.url.includes('/datasets/'))).toBe(false);
  });

  it("runs the model in a Web Worker, with WebGPU of its own, off the page's thread", async () => {
    const workers = first.page.workers().filter((w) => w.url().includes('model-worker'));
    expect(workers).toHaveLength(1);
    expect(await workers[0]!.evaluate(() => 'gpu' in navigator)).toBe(true);
  });

  it('saves a screenshot with generation, the checkpoint slider, attention and the lens', async () => {
    await mkdir(dirname(screenshot), { recursive: true });
    await first.page.screenshot({ path: screenshot, fullPage: true });
    expect(first.errors).toEqual([]);
  });

  it("slides over the repo's own branches in training order, cached ones marked", async () => {
    const { page } = first;
    const slider = page.getByTestId('checkpoint');
    const label = page.getByTestId('checkpoint-label');
    expect(await label.getAttribute('data-revision')).toBe('main');
    expect(await text(page, 'checkpoint-ticks')).toBe('01kmain');
    expect(
      await page.getByTestId('checkpoint-ticks').locator('.tick.labelled').allTextContents(),
    ).toEqual(['0', '1k', 'main']);

    // Keys step through what the slider offers: exactly the branches the Hub serves.
    await slider.focus();
    await page.keyboard.press('Home');
    const offered = [await label.getAttribute('data-revision')];
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press('ArrowRight');
      const revision = await label.getAttribute('data-revision');
      if (revision !== offered.at(-1)) offered.push(revision);
    }
    expect(offered).toEqual(['step0', 'step1000', 'main']);
    expect(Object.keys(TINY_BRANCHES)).toEqual(expect.arrayContaining(offered));

    // All three were loaded (main, then step0 and step1000 across training): all are marked.
    expect(
      await page
        .getByTestId('checkpoint-ticks')
        .locator('.cached-mark')
        .evaluateAll((marks) => marks.map((mark) => (mark as HTMLElement).dataset.revision)),
    ).toEqual(['step0', 'step1000', 'main']);
    expect(await text(page, 'checkpoint-note')).toBe(
      '3 checkpoints on the Hub, all cached in this browser (marked green).',
    );

    // A click halfway along lands on step1000, the middle branch.
    const box = (await slider.boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    expect(await text(page, 'checkpoint-label')).toBe(
      'step 1,000 of 1,000 (checkpoint 2 of 3) · cached',
    );

    await slider.focus();
    await page.keyboard.press('Home');
    expect(await text(page, 'checkpoint-label')).toBe(
      'step 0 of 1,000 (checkpoint 1 of 3) · cached',
    );
    await waitForText(page, 'load-hint', 'In the browser cache: loads without the network.');
  });

  it('loads from the browser cache on a second visit: no weight request reaches the Hub', async () => {
    await first.page.close();
    const before = hub.requests.length;
    const second = await visit(context, autorun());
    await finishAutorun(second.page);

    expect(weightRequests(before)).toEqual([]);
    expect(await text(second.page, 'status')).toContain('read from the browser cache');
    expect(await second.page.getByTestId('progress').getAttribute('data-percent')).toBe('100');
    expect(await second.page.getByTestId('output').getAttribute('data-ids')).toBe(
      golden.greedy.join(','),
    );
    expect(second.errors).toEqual([]);
    await second.page.close();
  });

  it('stops generating at the Stop button', async () => {
    const { page, errors } = await visit(
      context,
      `?hub=${encodeURIComponent(hub.hubOrigin)}&model=${TINY_REPO}&max_new_tokens=1024&temperature=1`,
    );
    // Cached, so it loads without a click, but generates only when asked.
    await waitForState(page, 'status', 'ready');
    await page.getByTestId('generate').click();
    await page.waitForFunction(
      () =>
        ((document.querySelector('[data-testid="output"]') as HTMLElement).dataset.ids ?? '')
          .split(',')
          .filter(Boolean).length >= 2,
    );
    await page.getByTestId('stop').click();
    await waitForState(page, 'output', 'stopped');
    const ids = (await page.getByTestId('output').getAttribute('data-ids'))!.split(',');
    expect(ids.length).toBeLessThan(1024);
    expect(await text(page, 'speed')).toMatch(
      new RegExp(`^${ids.length} tokens in .*ended: stopped$`),
    );
    expect(await page.getByTestId('generate').isEnabled()).toBe(true);
    expect(await page.getByTestId('stop').isEnabled()).toBe(false);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('loads q4 weights when chosen, says so, and generates; lists which sizes run here', async () => {
    const { page, errors } = await visit(
      context,
      `?hub=${encodeURIComponent(hub.hubOrigin)}&model=${TINY_REPO}` +
        '&prompt=Hello%2C%20I%20am&temperature=0&max_new_tokens=8',
    );
    // Cached, so it loads without a click, in auto: f16 for so small a model.
    await waitForState(page, 'status', 'ready');
    const info = page.getByTestId('model-info');
    expect(await info.getAttribute('data-dtype')).toBe('f16');
    expect(await info.textContent()).toContain('chosen automatically');
    // Each size of the suite says whether it runs here: estimateMemory against this adapter.
    const limits = await page.evaluate(async () => {
      const { limits } = (await navigator.gpu.requestAdapter())!;
      return {
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
      };
    });
    for (const name of ['pythia-70m', 'pythia-2.8b', 'pythia-12b']) {
      const fit = autoDtype(pythiaConfig(name), limits, DEFAULT_GPU_MEMORY);
      const option = page.locator(
        `[data-testid="model-select"] option[value="EleutherAI/${name}"]`,
      );
      expect((await option.textContent())?.endsWith(` — ${describeFit(fit)}`)).toBe(true);
    }
    expect(
      await page
        .locator('[data-testid="model-select"] option[value="EleutherAI/pythia-12b"]')
        .textContent(),
    ).toMatch(/ — too large for this adapter$/);

    await page.getByTestId('dtype-select').selectOption('q4');
    await page.getByTestId('load').click();
    await page.waitForSelector('[data-testid="model-info"][data-dtype="q4"]', { timeout: 60_000 });
    await waitForState(page, 'status', 'ready');
    expect(await info.textContent()).toContain(
      "q4 weights, quantized on load and kept in this browser's storage for the next",
    );
    expect(await text(page, 'dtype-caveat')).toBe(
      'q4 weights: results differ slightly from f16 (quantization).',
    );
    const generated = async () => {
      await page.getByTestId('generate').click();
      await waitForState(page, 'output', 'done');
      return (await page.getByTestId('output').getAttribute('data-ids'))!.split(',').map(Number);
    };
    const ids = await generated();
    expect(ids).toHaveLength(8);
    for (const id of ids) expect(id).toBeLessThan(tokenizer.vocabSize);
    // Loaded again: the quantized weights come from OPFS, and generate the same tokens.
    await page.getByTestId('load').click();
    await page.waitForFunction(
      () =>
        document
          .querySelector('[data-testid="model-info"]')
          ?.textContent?.includes("read already quantized from this browser's storage"),
      undefined,
      { timeout: 60_000 },
    );
    await waitForState(page, 'status', 'ready');
    expect(await generated()).toEqual(ids);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('fits the logit lens of a 6-token prompt in its panel; longer ones scroll only there', async () => {
    const { page, errors } = await visit(
      context,
      `?hub=${encodeURIComponent(hub.hubOrigin)}&model=${TINY_REPO}` +
        `&prompt=${encodeURIComponent('The quick brown fox jumps over')}`,
    );
    // Cached, so it loads and analyses without a click.
    await waitForState(page, 'lens', 'ready', 120_000);
    const lens = page.getByTestId('lens');
    expect(await lens.getAttribute('data-positions')).toBe('6');
    const fit = () =>
      lens.evaluate((panel) => ({
        grid: panel.querySelector('table')!.scrollWidth,
        panel: panel.clientWidth,
        panelScroll: panel.scrollWidth,
        page: document.documentElement.scrollWidth,
        window: document.documentElement.clientWidth,
      }));
    const six = await fit();
    expect(six.grid).toBeLessThanOrEqual(six.panel);
    expect(six.panelScroll).toBeLessThanOrEqual(six.panel);
    // A token cut short keeps its whole text in the cell's title.
    const cells = lens.locator('tbody td');
    expect(await cells.first().getAttribute('title')).toMatch(/^embedding, after "The": /);
    await mkdir(dirname(screenshot), { recursive: true });
    await lens.locator('..').screenshot({ path: join(dirname(screenshot), 'lens.png') });

    await page
      .getByTestId('prompt')
      .fill('The quick brown fox jumps over the lazy dog, again and again, '.repeat(2));
    await page.getByTestId('analyze').click();
    await page.waitForSelector(
      '[data-testid="lens"][data-state="ready"]:not([data-positions="6"])',
      { timeout: 60_000 },
    );
    const long = await fit();
    expect(long.panelScroll).toBeGreaterThan(long.panel);
    expect(long.page).toBeLessThanOrEqual(long.window);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("plots pythia-70m's official piqa curve and runs 5 examples live, as Node scores them", async () => {
    // A context of its own: its cache holds the dataset, not the other tests' checkpoints.
    const fresh = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const { page, errors } = await visit(
        fresh,
        `?hub=${encodeURIComponent(hub.hubOrigin)}&model=${OFFICIAL_REPO}&revision=step3000`,
      );
      // The official curve needs no download: it is drawn before anything is loaded.
      await waitForState(page, 'eval-plot', 'official');
      const official = officialResults(OFFICIAL_REPO).map((r) => ({
        step: r.step,
        value: r.results.piqa!.acc!,
      }));
      expect(official).toHaveLength(27);
      expect(official.at(-1)).toEqual({ step: 143_000, value: 0.5946681175190425 });
      const officialDots = () =>
        page
          .locator('[data-testid="eval-chart"] circle[data-source="official"]')
          .evaluateAll((dots) =>
            dots.map((d) => ({
              step: Number(d.getAttribute('data-step')),
              value: Number(d.getAttribute('data-value')),
            })),
          );
      expect(await officialDots()).toEqual(official);
      expect(await text(page, 'eval-note')).toBe(
        "EleutherAI's results for pythia-70m at 27 checkpoints (lm-evaluation-harness v0.3.0, " +
          'zero-shot, all 1838 examples).',
      );
      // acc_norm is the other metric piqa has.
      expect(
        await page
          .getByTestId('eval-metric')
          .locator('option')
          .evaluateAll((o) => o.map((option) => (option as HTMLOptionElement).value)),
      ).toEqual(['acc', 'acc_norm']);
      expect(await page.getByTestId('run-eval').isDisabled()).toBe(true);

      await page.getByTestId('load').click();
      await waitForState(page, 'status', 'ready', 120_000);
      // A vertical line has no area: attached, not "visible".
      await page.waitForSelector('[data-testid="eval-loaded"][data-step="3000"]', {
        state: 'attached',
      });
      await page.getByTestId('eval-examples').fill('5');
      expect(await text(page, 'run-eval')).toBe('Run 5 examples on this checkpoint');
      await page.getByTestId('run-eval').click();
      await page.waitForSelector(
        '[data-testid="eval-status"][data-state="done"], [data-testid="eval-status"][data-state="error"]',
        { timeout: 120_000 },
      );
      expect(await stateOf(page, 'eval-status')).toBe('done');
      expect(await page.getByTestId('eval-status').getAttribute('data-done')).toBe('5');
      // The dataset came from the Hub as a dataset repository, through its Parquet conversion.
      expect(
        hub.requests.some((r) =>
          decodeURIComponent(r.url).includes(`/datasets/${PIQA_DATASET}/resolve/`),
        ),
      ).toBe(true);

      const shown = await page
        .getByTestId('eval-rows')
        .locator('tr')
        .evaluateAll((rows) =>
          rows.map((row) => {
            const data = (row as HTMLElement).dataset;
            return {
              row: Number(data.row),
              logprobs: data.logprobs!.split(',').map(Number),
              acc: Number(data.acc),
              accNorm: Number(data.acc_norm),
            };
          }),
        );
      // The first 5 rows in the harness's order (its shuffle with random.Random(42)).
      const chosen = harnessShuffle(PIQA_ROWS.map((row, index) => ({ row, index }))).slice(0, 5);
      expect(shown.map((d) => d.row)).toEqual(chosen.map((c) => c.index));

      // The same documents scored in Node: the same checkpoint's logits from neox-model's
      // forward pass on Dawn, and evals' float64 log-softmax over the harness's 50 257 columns.
      const device = await createDevice();
      const expected: Array<{ results: LoglikelihoodResult[]; acc: number; accNorm: number }> = [];
      try {
        const model = await NeoXModel.load(
          { folder: fileURLToPath(new URL('tiny-neox-f16/', fixtures)) },
          { device },
        );
        const vocab = model.config.vocabSize;
        for (const { row } of chosen) {
          const doc = piqa.document(row);
          const results: LoglikelihoodResult[] = [];
          for (const request of doc.requests) {
            const window = loglikelihoodTokens(
              tokenizer,
              request.context,
              request.continuation,
              2048,
            );
            const logits = await model.forward(window.input);
            const rows = window.positions.map((p) => logits.subarray(p * vocab, (p + 1) * vocab));
            results.push(scoreRows(window, rows, { columns: HARNESS_LOGIT_COLUMNS }));
          }
          const values = piqa.score(doc, results);
          expected.push({ results, acc: values.acc!, accNorm: values.acc_norm! });
        }
        model.dispose();
      } finally {
        device.destroy();
      }
      shown.forEach((doc, i) => {
        const want = expected[i]!;
        // f32 GPU sums of f16 weights against a float64 log-softmax of f32 logits.
        want.results.forEach((r, j) => {
          expect(Math.abs(doc.logprobs[j]! - r.logprob)).toBeLessThanOrEqual(
            5e-4 * Math.max(1, Math.abs(r.logprob)),
          );
        });
        // The two choices of each of these documents are nats apart, far beyond that error:
        // the same answers.
        const [a, b] = want.results.map((r) => r.logprob) as [number, number];
        expect(Math.abs(a - b)).toBeGreaterThan(1);
        expect({ acc: doc.acc, accNorm: doc.accNorm }).toEqual({
          acc: want.acc,
          accNorm: want.accNorm,
        });
      });
      // The live point is the mean of those values, its bar their standard error.
      const accs = shown.map((d) => d.acc);
      const live = page.locator('[data-testid="eval-chart"] circle[data-source="live"]');
      expect(await live.count()).toBe(1);
      expect(await live.getAttribute('data-step')).toBe('3000');
      expect(Number(await live.getAttribute('data-value'))).toBe(mean(accs));
      expect(Number(await live.getAttribute('data-stderr'))).toBe(meanStderr(accs));
      expect(await text(page, 'eval-summary')).toBe(
        `acc ${mean(accs).toFixed(2)} ± ${meanStderr(accs).toFixed(2)} on 5 examples at step 3000 ` +
          '(official, all 1838 examples: 0.58)',
      );
      expect(await text(page, 'eval-status')).toContain('5 of 1838 examples is a noisy estimate');
      // The official curve is still there, beside the live point.
      expect(await officialDots()).toEqual(official);
      // The official point it is compared with is ringed.
      expect(
        await page
          .locator('[data-testid="eval-chart"] .compared')
          .getAttribute('data-compared-step'),
      ).toBe('3000');
      await page.locator('.eval-documents summary').click();
      await mkdir(dirname(screenshot), { recursive: true });
      await page
        .getByTestId('eval-plot')
        .locator('..')
        .screenshot({ path: join(dirname(screenshot), 'evals.png') });

      // acc_norm: the same run, another metric, and its own official curve.
      await page.getByTestId('eval-metric').selectOption('acc_norm');
      const norms = shown.map((d) => d.accNorm);
      expect(Number(await live.getAttribute('data-value'))).toBe(mean(norms));
      expect(await text(page, 'eval-summary')).toMatch(
        /^acc_norm \d\.\d\d ± \d\.\d\d on 5 examples at step 3000 \(official, all 1838 examples: 0\.58\)$/,
      );
      expect((await officialDots())[12]).toEqual({
        step: 3000,
        value: officialResults(OFFICIAL_REPO)[12]!.results.piqa!.acc_norm!,
      });

      // A task whose dataset this Hub lacks: one clear message, in the panel only.
      await page.getByTestId('eval-task').selectOption('arc_easy');
      await page.getByTestId('run-eval').click();
      await waitForState(page, 'eval-status', 'error');
      expect(await text(page, 'eval-status')).toBe(
        `The Hub at ${hub.hubOrigin} has no dataset allenai/ai2_arc, so the arc_easy examples ` +
          'cannot be read there. Pick another task.',
      );
      const whole = (await page.locator('body').textContent()) ?? '';
      expect(whole.split('has no dataset')).toHaveLength(2);
      expect(whole).not.toMatch(/FakeHub|@pythiajs|HF_/);
      expect(await stateOf(page, 'status')).toBe('ready');
      // Back to piqa: its run is shown again.
      await page.getByTestId('eval-task').selectOption('piqa');
      expect(await stateOf(page, 'eval-status')).toBe('done');
      expect(await text(page, 'eval-summary')).toMatch(/ on 5 examples at step 3000 /);

      // A model without official results: said plainly, instead of an empty plot.
      await page.getByTestId('model-select').selectOption('EleutherAI/pythia-1b');
      expect(await stateOf(page, 'eval-plot')).toBe('no-official');
      expect(await page.getByTestId('eval-plot').locator('svg').count()).toBe(0);
      expect(await text(page, 'eval-note')).toMatch(
        /^EleutherAI published no per-checkpoint results for EleutherAI\/pythia-1b/,
      );
      expect(errors).toEqual([]);
    } finally {
      await fresh.close();
    }
  });

  it('lists the cached checkpoints in the storage panel and deletes them', async () => {
    const { page } = await visit(
      context,
      `?hub=${encodeURIComponent(hub.hubOrigin)}&model=${TINY_REPO}`,
    );
    // Cached, so it loads without a click, but generates nothing.
    await waitForState(page, 'status', 'ready');
    const storage = page.getByTestId('storage');
    await page.waitForSelector('[data-testid="storage"][data-count="3"]');
    expect(
      await storage
        .locator('li')
        .evaluateAll((items) => items.map((li) => li.dataset.commit).sort()),
    ).toEqual(Object.values(TINY_BRANCHES).sort());
    expect(await storage.locator('.storage-name').allTextContents()).toEqual(
      expect.arrayContaining([
        `${TINY_REPO} @ main`,
        `${TINY_REPO} @ step0`,
        `${TINY_REPO} @ step1000`,
      ]),
    );
    expect(await storage.locator('.storage-meta').first().textContent()).toMatch(/MB/);
    expect(await text(page, 'storage-usage')).toMatch(/^This site uses .* the browser allows/);

    for (let left = 3; left > 0; left--) {
      await storage
        .getByRole('button', { name: /^Delete / })
        .first()
        .click();
      await page.waitForSelector(`[data-testid="storage"][data-count="${left - 1}"]`);
    }
    expect(await storage.textContent()).toBe('Nothing cached.');
    // The slider no longer marks them cached.
    await waitForText(page, 'checkpoint-note', /none cached in this browser yet\.$/);
    expect(await page.getByTestId('checkpoint-ticks').locator('.cached-mark').count()).toBe(0);

    // Nothing left: a visit now offers the download instead of loading, and marks nothing.
    const after = await visit(
      context,
      `?hub=${encodeURIComponent(hub.hubOrigin)}&model=${TINY_REPO}`,
    );
    await waitForText(after.page, 'load-hint', /^6\.5 MB to download\.$/);
    expect(await stateOf(after.page, 'status')).toBe('idle');
    expect(await text(after.page, 'checkpoint-note')).toBe(
      '3 checkpoints on the Hub, none cached in this browser yet.',
    );
    const marks = after.page.getByTestId('checkpoint-ticks').locator('.cached-mark');
    expect(await marks.count()).toBe(0);

    // Loading main marks it, and only it.
    await after.page.getByTestId('load').click();
    await waitForState(after.page, 'status', 'ready', 120_000);
    await waitForText(
      after.page,
      'checkpoint-note',
      '3 checkpoints on the Hub; the one cached in this browser is marked green.',
    );
    expect(
      await marks.evaluateAll((m) => m.map((mark) => (mark as HTMLElement).dataset.revision)),
    ).toEqual(['main']);
    expect(await text(after.page, 'checkpoint-label')).toBe(
      'main, the trained model (checkpoint 3 of 3) · cached',
    );
    await after.page.close();
  });

  it('shows the tokens of the prompt, again as the user types', async () => {
    const { page, errors } = await visit(
      context,
      `?hub=${encodeURIComponent(hub.hubOrigin)}&model=${TINY_REPO}`,
    );
    await waitForText(page, 'ids', '12092, 13, 309, 717');
    expect(await text(page, 'count')).toBe('4 tokens, 11 characters');
    const prompt = page.getByTestId('prompt');
    await prompt.fill('a    b');
    await waitForText(page, 'ids', '66, 50274, 67');
    await prompt.pressSequentially(' and more');
    await waitForText(page, 'count', '5 tokens, 15 characters');
    expect(errors).toEqual([]);
  });

  it('says where WebGPU is missing, and how to get it', async () => {
    const noGpu = await browser.newContext();
    await noGpu.addInitScript(() => {
      Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined });
    });
    const { page } = await visit(
      noGpu,
      `?hub=${encodeURIComponent(hub.hubOrigin)}&model=${TINY_REPO}&autorun=1`,
    );
    await waitForState(page, 'status', 'error');
    expect(await text(page, 'status')).toContain('No WebGPU here');
    expect(await page.getByTestId('webgpu').getAttribute('data-state')).toBe('no-webgpu');
    expect(await text(page, 'webgpu')).toContain('chrome://flags/#enable-unsafe-webgpu');
    expect(await page.getByTestId('load').isDisabled()).toBe(true);
    await noGpu.close();
  });

  it('says once, in plain words, why nothing loads when the Hub cannot be reached', async () => {
    const offline = await browser.newContext();
    const deadHub = `http://127.0.0.1:${await unusedPort()}`;
    const { page } = await visit(
      offline,
      `?hub=${encodeURIComponent(deadHub)}&model=${TINY_REPO}&autorun=1`,
    );
    await waitForState(page, 'status', 'error', 90_000);
    const status = await text(page, 'status');
    expect(status).toBe(
      `The Hub at ${deadHub} did not answer, and ${TINY_REPO} @ main is not cached in this ` +
        'browser. Check that ?hub= gives the address of a running Hub or mirror of its API.',
    );
    // Said once: not again under the Load button, and nowhere with test or package names.
    const whole = (await page.locator('body').textContent()) ?? '';
    expect(whole.split('did not answer')).toHaveLength(2);
    expect(await text(page, 'load-hint')).toBe('');
    expect(whole).not.toMatch(/FakeHub|stand-in|@pythiajs|HF_|\?revision=/);
    // The slider offers what loads offline (nothing yet), and says so in one line.
    expect(await text(page, 'checkpoint-note')).toBe(
      'Without the Hub’s list, the slider offers the checkpoints cached in this browser: none yet.',
    );
    expect(await page.getByTestId('checkpoint').isDisabled()).toBe(true);
    // The tokenizer the site bundles still works.
    await waitForText(page, 'ids', '12092, 13, 309, 717');
    await offline.close();
  });

  it('says it could not list all files where the Hub hides its next-page links from the page', async () => {
    // A mirror whose CORS headers expose everything but Link, with a listing of several pages:
    // the page reads the first page and cannot see that there is another.
    hub.pageSize = 1;
    hub.faults.push({
      match: '/tree/',
      headers: {
        'Access-Control-Expose-Headers':
          'Content-Range, Content-Length, ETag, X-Error-Code, X-Repo-Commit, X-Linked-Etag, X-Linked-Size',
      },
      times: 1000,
    });
    const fresh = await browser.newContext();
    try {
      const { page, errors } = await visit(
        fresh,
        `?hub=${encodeURIComponent(hub.hubOrigin)}&model=${TINY_REPO}&revision=main`,
      );
      await waitForState(page, 'status', 'error');
      expect(await text(page, 'status')).toBe(
        `Could not list all files of ${TINY_REPO} @ main: the Hub at ${hub.hubOrigin} does not ` +
          'let this page read the next page of its file listing (its Link header is not exposed ' +
          'to browsers). Check that the Hub or mirror that ?hub= gives sends ' +
          'Access-Control-Expose-Headers: Link.',
      );
      expect((await page.locator('body').textContent()) ?? '').not.toMatch(/has no file/);
      expect(errors).toEqual([]);
    } finally {
      hub.pageSize = 3;
      hub.faults.length = 0;
      await fresh.close();
    }
  });

  it('advises on the URL only when the visitor gave it, and clears an error that is stale', async () => {
    const { page, errors } = await visit(
      context,
      `?hub=${encodeURIComponent(hub.hubOrigin)}&model=${TINY_REPO}&revision=step7`,
    );
    await waitForState(page, 'status', 'error');
    expect(await text(page, 'status')).toContain(
      `${TINY_REPO} has no revision step7. Check ?revision=`,
    );
    // Picking a checkpoint the repo has clears it.
    await page.getByTestId('checkpoint').focus();
    await page.keyboard.press('Home');
    await waitForState(page, 'status', 'idle');
    expect(await text(page, 'status')).toBe('Pick a model and a checkpoint, then load it.');

    // A model picked from the list that this Hub lacks: no query parameter to check.
    const select = page.getByTestId('model-select');
    await select.selectOption('EleutherAI/pythia-14m');
    await waitForState(page, 'status', 'error');
    expect(await text(page, 'status')).toBe(
      'The Hub has no repository EleutherAI/pythia-14m. Pick another model.',
    );
    await select.selectOption(TINY_REPO);
    await waitForState(page, 'status', 'idle');
    await waitForText(page, 'checkpoint-note', /^3 checkpoints on the Hub/);
    expect(await page.locator('[data-state="error"]').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });
});

interface Visit {
  page: Page;
  /** Uncaught errors of the page. */
  errors: string[];
}

async function visit(where: BrowserContext, query: string): Promise<Visit> {
  const page = await where.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${site.origin}/${query}`);
  return { page, errors };
}

/** Waits for `?autorun=1` to load, generate, analyse and run across training. */
async function finishAutorun(page: Page): Promise<void> {
  await page.waitForSelector(
    '[data-testid="status"]:not([data-state="idle"]):not([data-state="loading"])',
    {
      timeout: 120_000,
    },
  );
  if ((await stateOf(page, 'status')) !== 'ready') {
    throw new Error(`the page did not load the model: ${await text(page, 'status')}`);
  }
  await page.waitForSelector(
    '[data-testid="across-training"][data-state="done"], [data-testid="across-training"][data-state="error"]',
    { timeout: 120_000 },
  );
}

/** `vite build` as `pnpm --filter demo build` runs it, in its own process. */
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

async function text(page: Page, testId: string): Promise<string> {
  return (await page.getByTestId(testId).textContent()) ?? '';
}

async function stateOf(page: Page, testId: string): Promise<string | null> {
  return page.getByTestId(testId).getAttribute('data-state');
}

async function waitForState(page: Page, testId: string, state: string, timeout = 60_000) {
  await page.waitForSelector(`[data-testid="${testId}"][data-state="${state}"]`, { timeout });
}

async function waitForText(page: Page, testId: string, expected: string | RegExp): Promise<void> {
  const pattern =
    typeof expected === 'string'
      ? { source: expected, exact: true }
      : { source: expected.source, exact: false };
  await page.waitForFunction(
    ([id, { source, exact }]) => {
      const content = document.querySelector(`[data-testid="${id}"]`)?.textContent ?? '';
      return exact ? content === source : new RegExp(source).test(content);
    },
    [testId, pattern] as const,
    { timeout: 60_000 },
  );
}
