import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Checkpoint, tensorRange } from '@pythiajs/checkpoint-hub';
import { FakeHub } from '@pythiajs/checkpoint-hub/testing';
import {
  HARNESS_LOGIT_COLUMNS,
  harnessResults,
  harnessShuffle,
  loglikelihoodTokens,
  officialResults,
  scoreRows,
  TASK_NAMES,
  TASKS,
  type TaskName,
} from '@pythiajs/evals';
import { NeoXModel, parseNeoXConfig, randomCheckpoint } from '@pythiajs/neox-model';
import { createDevice, type Device } from '@pythiajs/tensor-core';
import { Tokenizer } from '@pythiajs/tokenizer';
import { parquetOf } from '@pythiajs/vitest-config/parquet';
import { safetensorsOf } from '@pythiajs/vitest-config/safetensors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetRepos, ROWS } from './eval-datasets.js';
import { fixtureFolder, hubEnv, pythia, type Run } from './support.js';

// `pythia eval` end to end, through the built CLI, against a local Hub: three training
// checkpoints of a model named EleutherAI/pythia-70m (so that --compare finds EleutherAI's
// numbers for it) with random weights at a tiny width, and every task's dataset as a Parquet
// conversion of a few rows in the task's real schema. The expected numbers come from an
// independent scorer in this file: the full logits of `model.forward` on the same weights, scored
// in float64 by evals' `scoreRows` over the harness's 50 257 columns.

const tokenizer = Tokenizer.fromJSON(
  readFileSync(join(fixtureFolder('gpt-neox-20b'), 'tokenizer.json'), 'utf8'),
);

const config = parseNeoXConfig({
  hidden_size: 32,
  num_attention_heads: 2,
  num_hidden_layers: 2,
  intermediate_size: 128,
  vocab_size: 50304,
  rotary_pct: 0.25,
  max_position_embeddings: 2048,
  use_parallel_residual: true,
  hidden_act: 'gelu',
});

/**
 * Random f32 weights, their matrices scaled up from randomCheckpoint's N(0, 0.02) so that the
 * model's choices are far from ties (the numbers of both scorers then agree to the last digit of
 * every accuracy).
 */
function checkpoint(seed: number): Checkpoint {
  const base = randomCheckpoint(config, { seed, dtype: 'F32' });
  return {
    ...base,
    read: async (name, into, range) => {
      const whole = (await base.read(name)).slice();
      const values = new Float32Array(whole.buffer, whole.byteOffset, whole.byteLength / 4);
      if (base.tensors.get(name)!.shape.length === 2)
        for (let i = 0; i < values.length; i++) values[i]! *= 25;
      const { offset, length } = tensorRange(name, whole.length, range);
      const bytes = whole.subarray(offset, offset + length);
      if (!into) return bytes;
      into.set(bytes);
      return into.subarray(0, bytes.length);
    },
  };
}

const REPO = 'EleutherAI/pythia-70m';
const SEEDS = { step0: 10, step1000: 11, step143000: 12 } as const;
type Revision = keyof typeof SEEDS;
const COMMITS: Record<Revision, string> = {
  step0: '0'.repeat(40),
  step1000: '1'.repeat(40),
  step143000: '2'.repeat(40),
};

let hub: FakeHub;
let scratch: string;
let env: Record<string, string | undefined>;
const models = new Map<Revision, NeoXModel>();
let device: Device;

beforeAll(async () => {
  device = await createDevice();
  const commits: Record<string, Record<string, Uint8Array | string>> = {};
  for (const revision of Object.keys(SEEDS) as Revision[]) {
    const ckpt = checkpoint(SEEDS[revision]);
    commits[COMMITS[revision]] = {
      'config.json': JSON.stringify(ckpt.config),
      'model.safetensors': await safetensorsOf(ckpt),
    };
    models.set(revision, await NeoXModel.fromCheckpoint(checkpoint(SEEDS[revision]), { device }));
  }
  hub = await new FakeHub(
    { [REPO]: { branches: { ...COMMITS, main: COMMITS.step143000 }, commits } },
    { datasets: datasetRepos() },
  ).start();
  scratch = await mkdtemp(join(tmpdir(), 'pythia-eval-'));
  env = hubEnv(hub.hubOrigin, join(scratch, 'hub'));
});
afterAll(async () => {
  for (const model of models.values()) model.dispose();
  device?.destroy();
  await hub?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/**
 * The harness's numbers for a task on a checkpoint, computed independently of the CLI: documents
 * in the harness's order (shuffled, then cut to `limit`), each request's windows from
 * `loglikelihoodTokens`, the full logits rows of `model.forward`, `scoreRows` in float64 over the
 * first 50 257 columns.
 */
async function expected(
  revision: Revision,
  task: TaskName,
  rows: readonly Record<string, unknown>[] = ROWS[task],
  limit: number | null = null,
): Promise<Record<string, number>> {
  const model = models.get(revision)!;
  const V = config.vocabSize;
  const values: Record<string, number>[] = [];
  for (const row of harnessShuffle(rows).slice(0, limit ?? undefined)) {
    const document = TASKS[task].document(row);
    const results = [];
    for (const request of document.requests) {
      const tokens = loglikelihoodTokens(tokenizer, request.context, request.continuation, 2048);
      const logits = await model.forward(tokens.input);
      const rowsOf = tokens.positions.map((p) => logits.subarray(p * V, (p + 1) * V));
      results.push(scoreRows(tokens, rowsOf, { columns: HARNESS_LOGIT_COLUMNS }));
    }
    values.push(TASKS[task].score(document, results));
  }
  return harnessResults([{ task: TASKS[task], documents: values }], {
    model_args: `pretrained=${REPO},revision=${revision}`,
  }).results[task]!;
}

/** Accuracies (and their stderrs) exactly; perplexity within 1e-4 relative. */
function expectMetrics(got: Record<string, number>, want: Record<string, number>): void {
  expect(Object.keys(got)).toEqual(Object.keys(want));
  for (const [metric, value] of Object.entries(want)) {
    if (metric.startsWith('ppl')) expect(Math.abs(got[metric]! / value - 1)).toBeLessThan(1e-4);
    else expect(got[metric], metric).toBe(value);
  }
}

const eval_ = (args: string[], extra: Record<string, string | undefined> = {}): Promise<Run> =>
  pythia(['eval', ...args], { env: { ...env, ...extra } });

function readJson(path: string) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** The data points of a plot, as its elements' data attributes give them. */
function plotPoints(svg: string) {
  return [
    ...svg.matchAll(
      /data-model="([^"]*)" data-metric="([^"]*)" data-step="([^"]*)" data-value="([^"]*)" data-source="([^"]*)"/g,
    ),
  ].map(([, model, metric, step, value, source]) => ({
    model,
    metric,
    step: Number(step),
    value: Number(value),
    source,
  }));
}

/** Whether the Hub cache holds any file of a model revision's commit. */
function cached(cache: string, revision: Revision): boolean {
  const snapshot = join(cache, 'models--EleutherAI--pythia-70m', 'snapshots', COMMITS[revision]);
  return existsSync(snapshot) && readdirSync(snapshot).length > 0;
}

describe('pythia eval on one checkpoint', () => {
  it('runs every task on Hub-served datasets, with the numbers of an independent scorer', async () => {
    const run = await eval_([...TASK_NAMES, '--model', REPO, '--revisions', 'step1000']);
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(Object.keys(out)).toEqual(['results', 'versions', 'config', 'pythiajs']);
    expect(Object.keys(out.results)).toEqual(TASK_NAMES);
    for (const task of TASK_NAMES)
      expectMetrics(out.results[task], await expected('step1000', task));
    expect(out.versions).toEqual(Object.fromEntries(TASK_NAMES.map((t) => [t, 0])));
    expect(out.config).toMatchObject({
      model: 'hf-causal',
      model_args: `pretrained=${REPO},revision=step1000`,
      num_fewshot: 0,
      limit: null,
      bootstrap_iters: 100000,
    });
    expect(out.pythiajs).toMatchObject({
      model: REPO,
      revision: 'step1000',
      commit: COMMITS.step1000,
      step: 1000,
      logit_columns: 50257,
      dtype: 'f32',
    });
    expect(out.pythiajs.datasets.piqa).toEqual({
      hub: 'ybisk/piqa',
      config: 'plain_text',
      split: 'validation',
      commit: 'c'.repeat(40),
    });
    // Python's json.dumps: metric values as floats.
    expect(run.stdout).toMatch(/"acc": [01]\.\d+,?\n/);
    // A single checkpoint keeps what it downloaded (--keep all), datasets included.
    expect(cached(env.HF_HUB_CACHE!, 'step1000')).toBe(true);
    expect(existsSync(join(env.HF_HUB_CACHE!, 'datasets--ybisk--piqa'))).toBe(true);
  });

  it('reads a local .jsonl (with --limit) and .parquet (one document per step) file in the dataset schema', async () => {
    const jsonl = join(scratch, 'piqa.jsonl');
    await writeFile(jsonl, ROWS.piqa.map((r) => JSON.stringify(r)).join('\n'));
    const piqa = await eval_([
      'piqa',
      '--file',
      jsonl,
      '--limit',
      '3',
      '--model',
      `${REPO}@step1000`,
    ]);
    expect(piqa.code, piqa.stderr).toBe(0);
    const out = JSON.parse(piqa.stdout);
    expectMetrics(out.results.piqa, await expected('step1000', 'piqa', ROWS.piqa, 3));
    expect(out.config.limit).toBe(3);
    expect(out.pythiajs.datasets.piqa).toMatchObject({ file: jsonl });

    const parquet = join(scratch, 'arc.parquet');
    await writeFile(parquet, parquetOf(ROWS.arc_easy));
    const arc = await eval_([
      'arc_easy',
      '--file',
      parquet,
      '--model',
      REPO,
      '--revision',
      'step1000',
      '--batch-size',
      '1',
    ]);
    expect(arc.code, arc.stderr).toBe(0);
    expectMetrics(JSON.parse(arc.stdout).results.arc_easy, await expected('step1000', 'arc_easy'));
  });

  it('reads every other task from a local file too (.jsonl, .json array, .parquet)', async () => {
    const formats: Array<[TaskName, string]> = [
      ['lambada_openai', 'jsonl'],
      ['arc_challenge', 'parquet'],
      ['sciq', 'json'],
      ['logiqa', 'parquet'],
      ['winogrande', 'jsonl'],
      ['wsc', 'parquet'],
    ];
    for (const [task, format] of formats) {
      const file = join(scratch, `${task}.${format}`);
      const rows = ROWS[task];
      await writeFile(
        file,
        format === 'parquet'
          ? parquetOf(rows)
          : format === 'json'
            ? JSON.stringify(rows)
            : rows.map((r) => JSON.stringify(r)).join('\n'),
      );
      const run = await eval_([
        task,
        '--file',
        file,
        '--limit',
        '2',
        '--model',
        `${REPO}@step1000`,
      ]);
      expect(run.code, `${task}: ${run.stderr}`).toBe(0);
      expectMetrics(
        JSON.parse(run.stdout).results[task],
        await expected('step1000', task, rows, 2),
      );
    }
  });

  it('runs offline from the cache, datasets included (HF_HUB_OFFLINE=1)', async () => {
    const run = await eval_(['piqa', 'wsc', '--model', `${REPO}@step1000`], {
      HF_HUB_OFFLINE: '1',
    });
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    expectMetrics(out.results.piqa, await expected('step1000', 'piqa'));
    expectMetrics(out.results.wsc, await expected('step1000', 'wsc'));
  });
});

describe('pythia eval over training checkpoints', () => {
  const TASKS_RUN = ['piqa', 'lambada_openai'];
  const SWEEP = ['--model', REPO, '--revisions', 'step1000,step0,step143000'];
  let dir: string;
  let csv: string;
  const plots: Record<string, string> = {};

  beforeAll(async () => {
    dir = join(scratch, 'sweep');
    const run = await eval_([...TASKS_RUN, ...SWEEP, '--output-dir', dir, '--compare']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('');
    // A line per unit, in the units' order: model, then training order, then task as given.
    const units = run.stderr.split('\n').filter((l) => /^\[\d\/6\]/.test(l));
    expect(units.map((l) => l.split(':')[0])).toEqual([
      `[1/6] piqa ${REPO}@step0`,
      `[2/6] lambada_openai ${REPO}@step0`,
      `[3/6] piqa ${REPO}@step1000`,
      `[4/6] lambada_openai ${REPO}@step1000`,
      `[5/6] piqa ${REPO}@step143000`,
      `[6/6] lambada_openai ${REPO}@step143000`,
    ]);
    csv = readFileSync(join(dir, 'results.csv'), 'utf8');
    for (const task of TASKS_RUN)
      plots[task] = readFileSync(join(dir, 'plots', `${task}.svg`), 'utf8');
  });

  it('writes a results file per unit and per checkpoint, equal to the independent scorer', async () => {
    for (const revision of ['step0', 'step1000', 'step143000'] as Revision[]) {
      const combined = readJson(join(dir, 'pythia-70m', `${revision}.json`));
      expect(Object.keys(combined.results)).toEqual(['lambada_openai', 'piqa']);
      expect(combined.config.model_args).toBe(`pretrained=${REPO},revision=${revision}`);
      for (const task of ['piqa', 'lambada_openai'] as TaskName[]) {
        const unit = readJson(join(dir, 'pythia-70m', revision, `${task}.json`));
        const want = await expected(revision, task);
        expectMetrics(unit.results[task], want);
        expect(combined.results[task]).toEqual(unit.results[task]);
      }
    }
  });

  it('writes one CSV row per checkpoint, task and metric, in training order', async () => {
    const lines = csv.trimEnd().split('\n');
    expect(lines[0]).toBe('model,revision,step,task,metric,value,stderr');
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 5).join(','))).toEqual(
      ['step0', 'step1000', 'step143000'].flatMap((revision) => {
        const step = revision.slice(4);
        return [
          `${REPO},${revision},${step},lambada_openai,ppl`,
          `${REPO},${revision},${step},lambada_openai,acc`,
          `${REPO},${revision},${step},piqa,acc`,
          `${REPO},${revision},${step},piqa,acc_norm`,
        ];
      }),
    );
    for (const line of lines.slice(1)) {
      const [, revision, , task, metric, value, stderr] = line.split(',');
      const unit = readJson(join(dir, 'pythia-70m', revision!, `${task}.json`));
      expect(Number(value)).toBe(unit.results[task!][metric!]);
      expect(Number(stderr)).toBe(unit.results[task!][`${metric}_stderr`]);
    }
  });

  it("plots the CSV's values against the step, with EleutherAI's numbers under --compare", () => {
    const rows = csv
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','));
    for (const task of ['piqa', 'lambada_openai']) {
      const points = plotPoints(plots[task]!);
      const ours = points.filter((p) => p.source === 'pythiajs');
      expect(ours.map((p) => [p.model, p.metric, p.step, p.value]).sort()).toEqual(
        rows
          .filter((r) => r[3] === task)
          .map(([model, , step, , metric, value]) => [model, metric, Number(step), Number(value)])
          .sort(),
      );
      const official = points.filter((p) => p.source === 'official');
      const published = officialResults(REPO).flatMap((r) =>
        Object.entries(r.results[task as TaskName] ?? {})
          .filter(([metric]) => !metric.endsWith('_stderr'))
          .map(([metric, value]) => [REPO, metric, r.step, value]),
      );
      expect(published.length).toBeGreaterThanOrEqual(27 * 2);
      expect(official.map((p) => [p.model, p.metric, p.step, p.value]).sort()).toEqual(
        published.sort(),
      );
    }
    // LAMBADA's perplexity has a panel of its own, on a log axis.
    expect(plots.lambada_openai).toMatch(/ppl \(log scale\)/);
  });

  it('keeps only the last checkpoint of a sweep in the cache by default (--keep last)', () => {
    expect(cached(env.HF_HUB_CACHE!, 'step0')).toBe(false);
    expect(cached(env.HF_HUB_CACHE!, 'step143000')).toBe(true);
  });

  it('resumes: only a missing unit runs again, past a leftover .partial', async () => {
    const lost = join(dir, 'pythia-70m', 'step0', 'piqa.json');
    const before = readFileSync(lost, 'utf8');
    await rm(lost);
    await writeFile(`${lost}.partial`, '{"results": {"piqa": {"acc": 0.');
    const kept = join(dir, 'pythia-70m', 'step1000', 'piqa.json');
    const mtime = statSync(kept).mtimeMs;
    // --keep none: step0 (downloaded again now) goes, step143000 (cached before this run) stays.
    const run = await eval_([...TASKS_RUN, ...SWEEP, '--output-dir', dir, '--keep', 'none']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^5 of 6 units already done in .*; running 1$/m);
    expect(run.stderr.split('\n').filter((l) => /^\[\d\/\d\]/.test(l))).toEqual([
      expect.stringMatching(new RegExp(`^\\[1/1\\] piqa ${REPO}@step0: acc `)),
    ]);
    const after = readFileSync(lost, 'utf8');
    const strip = (json: string) => ({
      ...JSON.parse(json),
      pythiajs: { ...JSON.parse(json).pythiajs, seconds: {} },
    });
    expect(strip(after)).toEqual(strip(before));
    expect(statSync(kept).mtimeMs).toBe(mtime);
    expect(readFileSync(join(dir, 'results.csv'), 'utf8')).toBe(csv);
    expect(cached(env.HF_HUB_CACHE!, 'step0')).toBe(false);
    expect(cached(env.HF_HUB_CACHE!, 'step143000')).toBe(true);
  });

  it('refuses to resume with other settings, naming the option and the file', async () => {
    const run = await eval_([...TASKS_RUN, ...SWEEP, '--output-dir', dir, '--limit', '2']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(
      /step0[/\\]piqa\.json was run without --limit, and this run is with --limit 2/,
    );
  });

  it('runs as shards 0/2 and 1/2 that merge into the same CSV and plots; merge names missing shards', async () => {
    const sharded = join(scratch, 'sharded');
    const cache = join(scratch, 'hub-shards');
    const shard = (i: number) =>
      eval_(
        [...TASKS_RUN, ...SWEEP, '--output-dir', sharded, '--shard', `${i}/2`, '--keep', 'none'],
        {
          HF_HUB_CACHE: cache,
        },
      );
    const first = await shard(0);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(
      /shard 0\/2 done \(3 units\); when every shard is, run: pythia eval merge /,
    );
    expect(existsSync(join(sharded, 'results.csv'))).toBe(false);

    const early = await eval_(['merge', sharded]);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(
      /missing lambada_openai of EleutherAI\/pythia-70m@step1000 \(shard 1\/2\)/,
    );
    expect(early.stderr).toMatch(/3 planned units are missing from .* \(shard 1\/2\)/);

    const second = await shard(1);
    expect(second.code, second.stderr).toBe(0);
    const merged = await eval_(['merge', sharded, '--compare']);
    expect(merged.code, merged.stderr).toBe(0);
    expect(readFileSync(join(sharded, 'results.csv'), 'utf8')).toBe(csv);
    for (const task of TASKS_RUN)
      expect(readFileSync(join(sharded, 'plots', `${task}.svg`), 'utf8')).toBe(plots[task]);
    // --keep none: no checkpoint left in that cache; the datasets stay.
    for (const revision of ['step0', 'step1000', 'step143000'] as Revision[])
      expect(cached(cache, revision)).toBe(false);
    expect(readdirSync(join(cache, 'models--EleutherAI--pythia-70m', 'blobs'))).toEqual([]);
    expect(existsSync(join(cache, 'datasets--ybisk--piqa'))).toBe(true);
  });

  it('takes --revisions all offline as the stepN checkpoints the cache holds', async () => {
    // The cache holds step1000 (kept by the first run) and step143000 (kept by --keep last).
    const run = await eval_(
      [
        'piqa',
        '--model',
        REPO,
        '--revisions',
        'all',
        '--limit',
        '2',
        '--output-dir',
        join(scratch, 'offline'),
      ],
      { HF_HUB_OFFLINE: '1' },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(
      run.stderr
        .split('\n')
        .filter((l) => /^\[\d\/\d\]/.test(l))
        .map((l) => l.split(':')[0]),
    ).toEqual([`[1/2] piqa ${REPO}@step1000`, `[2/2] piqa ${REPO}@step143000`]);
  });
});

describe('pythia eval refuses bad input with one line (exit 2)', () => {
  let bad: string;
  beforeAll(async () => {
    bad = join(scratch, 'bad');
    await mkdir(join(bad, 'empty'), { recursive: true });
    await writeFile(
      join(bad, 'piqa.jsonl'),
      `${JSON.stringify({ goal: 'g', sol1: 'a', label: 0 })}\n`,
    );
  });
  const cases: Array<[string, () => string[], RegExp]> = [
    [
      'an unknown task, listing the tasks',
      () => ['lambada', '--file', join(bad, 'piqa.jsonl')],
      /unknown task "lambada" \(did you mean lambada_openai\?\); the tasks are lambada_openai, piqa, arc_easy, arc_challenge, sciq, logiqa, winogrande, wsc/,
    ],
    [
      '--file with several tasks',
      () => ['piqa', 'arc_easy', '--file', join(bad, 'piqa.jsonl')],
      /--file holds the documents of one task; 2 were named \(piqa, arc_easy\)/,
    ],
    [
      'a file without a column of the task',
      () => ['piqa', '--file', join(bad, 'piqa.jsonl'), '--model', REPO],
      /piqa\.jsonl: row 1 has no "sol2" column \(piqa rows have goal, sol1, sol2, label\)/,
    ],
    [
      '--shard 3/2',
      () => ['piqa', '--shard', '3/2', '--output-dir', bad],
      /--shard 3\/2: i must be below n/,
    ],
    [
      'a sweep without --output-dir',
      () => ['piqa', '--model', REPO, '--revisions', 'step0,step1000'],
      /a sweep \(several checkpoints or models\) writes its results to files: give --output-dir/,
    ],
    [
      'merge of a folder without results',
      () => ['merge', join(bad, 'empty')],
      /holds no results of pythia eval/,
    ],
  ];
  for (const [what, args, message] of cases) {
    it(what, async () => {
      const run = await eval_(args());
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(message);
    });
  }
});
