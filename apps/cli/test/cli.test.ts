import { spawn } from 'node:child_process';
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HubClient } from '@pythiajs/checkpoint-hub';
import { NodeHubCache } from '@pythiajs/checkpoint-hub/node';
import { FakeHub, sha256Hex } from '@pythiajs/checkpoint-hub/testing';
import { type LensLayer, logitLens, NeoXModel, tokenLogprobs } from '@pythiajs/neox-model';
import { Tokenizer } from '@pythiajs/tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeNpy } from '../src/npy.js';
import { slidingWindows } from '../src/scoring.js';
import {
  bin,
  fixtureCommit,
  fixtureFolder,
  golden,
  hubEnv,
  logitTolerance,
  maxAbsDiff,
  pythia,
} from './support.js';

// Commits of the stand-in Hub: one fixture checkpoint each. `step143000` and `main` serve the same
// weights from different commits, as Pythia's real repos do.
const STEP0 = '0'.repeat(40); // tiny-neox-bin: .bin with legacy buffers, 2048 ids, context 256
const STEP1000 = '1'.repeat(40); // tiny-neox-f32-sharded: sharded, sequential residual
const STEP143000 = 'a'.repeat(40); // tiny-neox-f16, plus a README
const MAIN = 'c'.repeat(40); // tiny-neox-f16: 50 304 ids, context 2048
const CORRUPT = 'd'.repeat(40);

const [hello, favorite] = golden('tiny-neox-f16'); // "Hello, I am", "My favorite food is"
const tokenizer = Tokenizer.fromJSON(
  readFileSync(join(fixtureFolder('gpt-neox-20b'), 'tokenizer.json'), 'utf8'),
);

function hubRepos() {
  const f16 = fixtureCommit('tiny-neox-f16');
  const truncated = fixtureCommit('tiny-neox-f16');
  const weights = truncated['model.safetensors'] as Uint8Array;
  truncated['model.safetensors'] = weights.subarray(0, weights.length / 2);
  return {
    'EleutherAI/pythia-tiny': {
      branches: { step0: STEP0, step1000: STEP1000, step143000: STEP143000, main: MAIN },
      commits: {
        [STEP0]: fixtureCommit('tiny-neox-bin'),
        [STEP1000]: fixtureCommit('tiny-neox-f32-sharded'),
        [STEP143000]: { ...f16, 'README.md': '# pythia-tiny\n' },
        [MAIN]: f16,
      },
    },
    'EleutherAI/pythia-corrupt': { branches: { main: CORRUPT }, commits: { [CORRUPT]: truncated } },
  };
}

let hub: FakeHub;
let cache: string;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  hub = await new FakeHub(hubRepos()).start();
  cache = await mkdtemp(join(tmpdir(), 'pythia-cli-'));
  env = hubEnv(hub.hubOrigin, cache);
});
afterAll(async () => {
  await hub?.stop();
  if (cache) await rm(cache, { recursive: true, force: true });
});

const TINY = ['--model', 'EleutherAI/pythia-tiny'];

describe('pythia tokenize / detokenize', () => {
  it('prints the ids of a text, as Hugging Face tokenizers gives them', async () => {
    expect(await pythia(['tokenize', 'Hello, I am'])).toEqual({
      code: 0,
      stdout: '12092,13,309,717\n',
      stderr: '',
    });
  });

  it('reads standard input and prints JSON with the byte-level tokens', async () => {
    const { code, stdout } = await pythia(['tokenize', '--json'], { input: 'a    b' });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ ids: [66, 50274, 67], tokens: ['a', '    ', 'b'] });
  });

  it('turns ids back into text, skipping special tokens on request', async () => {
    expect((await pythia(['detokenize', '0,12092,13,309,717,0'])).stdout).toBe(
      '<|endoftext|>Hello, I am<|endoftext|>\n',
    );
    expect(
      (await pythia(['detokenize', '--skip-special-tokens', '0 12092 13 309 717'])).stdout,
    ).toBe('Hello, I am\n');
  });
});

describe('pythia generate', () => {
  it('gives the reference greedy tokens at temperature 0, as one JSON object', async () => {
    const ids = hello!.ids.join(',');
    const run = await pythia(
      ['generate', ...TINY, '--temperature', '0', '--ids', ids, '--max-new-tokens', '8', '--json'],
      { env },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    const out = JSON.parse(run.stdout);
    expect(out.ids).toEqual(hello!.greedy); // [36321, 39115, 41484, …]
    expect(out).toMatchObject({ model: 'EleutherAI/pythia-tiny', revision: 'main', commit: MAIN });
    expect(out.text).toBe(tokenizer.decode(hello!.greedy));
    expect(out.tokens_per_s).toBeGreaterThan(0);
    expect(out.stop_reason).toBe('length');
  });

  it('streams the text of a prompt read from standard input; no stats off a terminal', async () => {
    const run = await pythia(
      [
        'generate',
        '--model',
        'EleutherAI/pythia-tiny@main',
        '--temperature',
        '0',
        '--max-new-tokens',
        '8',
      ],
      { env, input: favorite!.text! },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(`${tokenizer.decode(favorite!.greedy)}\n`); // " fans…"
    expect(run.stderr).toBe('');
  });

  it('ends the streamed text with a newline when Ctrl-C stops it, then ends by that signal', async () => {
    const { stdout, signal } = await new Promise<{ stdout: string; signal: string | null }>(
      (resolve, reject) => {
        const child = spawn(
          process.execPath,
          [bin, 'generate', ...TINY, '--ids', hello!.ids.join(','), '--max-new-tokens', '2000'],
          { env: { ...process.env, ...env, NO_COLOR: '1' } as NodeJS.ProcessEnv },
        );
        let stdout = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          // Mid-stream, as a person at the terminal would.
          if (stdout === '') setTimeout(() => child.kill('SIGINT'), 200);
          stdout += d;
        });
        child.on('error', reject);
        child.on('close', (_code, signal) => resolve({ stdout, signal }));
      },
    );
    expect(signal).toBe('SIGINT');
    expect(stdout.length).toBeGreaterThan(1);
    expect(stdout.endsWith('\n')).toBe(true);
    expect(stdout.endsWith('\n\n')).toBe(false);
  });

  it('samples the same tokens for the same seed, within the vocabulary the tokenizer has', async () => {
    const args = ['generate', ...TINY, '--ids', hello!.ids.join(','), '--json'];
    const sample = ['--temperature', '1.5', '--top-k', '40', '--top-p', '0.95', '--min-p', '0.01'];
    const a = JSON.parse((await pythia([...args, ...sample, '--seed', '7'], { env })).stdout);
    const b = JSON.parse((await pythia([...args, ...sample, '--seed', '7'], { env })).stdout);
    expect(a.ids).toHaveLength(64);
    expect(a.ids).toEqual(b.ids);
    expect(Math.max(...a.ids)).toBeLessThan(50277); // padded-vocabulary ids are masked
  });

  it('applies the repetition penalty over the prompt and what it generated', async () => {
    const args = [
      'generate',
      ...TINY,
      '--ids',
      hello!.ids.join(','),
      '--json',
      '--temperature',
      '0',
    ];
    const penalty = ['--repetition-penalty', '100', '--max-new-tokens', '12'];
    const run = JSON.parse((await pythia([...args, ...penalty], { env })).stdout);
    const seen = [...hello!.ids, ...run.ids];
    expect(new Set(seen).size).toBe(seen.length);
  });
});

describe('pythia logits', () => {
  it('writes the last position as a float32 .npy of shape [vocab] equal to the golden logits', async () => {
    const out = join(cache, 'last.npy');
    const run = await pythia(['logits', ...TINY, '--text', hello!.text!, '--out', out], { env });
    expect(run.code, run.stderr).toBe(0);
    const { data, shape } = decodeNpy(readFileSync(out));
    expect(shape).toEqual([50304]);
    expect(maxAbsDiff(data, hello!.logits_last)).toBeLessThan(logitTolerance(hello!.logits_last));
  });

  it('writes every position as [positions, vocab] with --all-positions', async () => {
    const out = join(cache, 'all.npy');
    const args = [
      'logits',
      ...TINY,
      '--ids',
      hello!.ids.join(','),
      '--out',
      out,
      '--all-positions',
    ];
    expect((await pythia(args, { env })).code).toBe(0);
    const bytes = readFileSync(out);
    // The header numpy.load reads: magic, version 1.0, dict padded to 64 bytes.
    expect([...bytes.subarray(0, 8)]).toEqual([0x93, ...Buffer.from('NUMPY'), 1, 0]);
    expect(bytes.subarray(10, 10 + bytes.readUInt16LE(8)).toString('latin1')).toMatch(
      /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(4, 50304\), \} *\n$/,
    );
    expect((bytes.readUInt16LE(8) + 10) % 64).toBe(0);
    const { data, shape } = decodeNpy(bytes);
    expect(shape).toEqual([4, 50304]);
    hello!.logits_head.forEach((head, t) => {
      const row = data.subarray(t * 50304, t * 50304 + head.length);
      expect(maxAbsDiff(row, head)).toBeLessThan(logitTolerance(hello!.logits_last));
    });
  });
});

describe('pythia score, lens and sweep (checked against the model package in-process)', () => {
  let small: NeoXModel; // tiny-neox-bin: a context of 256 tokens
  let f16: NeoXModel;
  beforeAll(async () => {
    small = await NeoXModel.load({ folder: fixtureFolder('tiny-neox-bin') });
    f16 = await NeoXModel.load({ folder: fixtureFolder('tiny-neox-f16') });
  });
  afterAll(() => {
    small?.dispose();
    f16?.dispose();
  });

  it('scores a text longer than the context with a sliding window', async () => {
    const text = 'It was the best of all, and it was the one of them. '.repeat(25);
    const ids = tokenizer.encode(text);
    expect(ids.length).toBeGreaterThan(256 + 32);
    const run = await pythia(['score', '--model', fixtureFolder('tiny-neox-bin'), '--json'], {
      input: text,
    });
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.scored).toBe(ids.length - 1);
    // The first window is one forward pass over the first 256 tokens.
    const first = await tokenLogprobs(small, ids.slice(0, 256));
    const got = out.tokens.map((t: { logprob: number }) => t.logprob);
    expect(maxAbsDiff(got.slice(0, 255), first)).toBeLessThan(1e-3);
    // Later tokens are predicted from at least half a window of context (stride 128).
    const lastWindow = await tokenLogprobs(small, ids.slice(128, 384));
    expect(Math.abs(got[ids.length - 2] - lastWindow[ids.length - 2 - 128]!)).toBeLessThan(1e-3);
    const mean = got.reduce((a: number, b: number) => a + b, 0) / got.length;
    expect(out.loss).toBeCloseTo(-mean, 10);
    expect(out.perplexity).toBeCloseTo(Math.exp(-mean), 6);
  });

  it('scores the windows in batches: the numbers of one window per step', async () => {
    const text = 'It was the best of all, and it was the one of them. '.repeat(40);
    const ids = tokenizer.encode(text);
    // Windows of 256 tokens every 64: seven of them, run 4 + 3 with --batch-size 4.
    const windows = slidingWindows(ids.length, 256, 64);
    expect(windows).toHaveLength(7);
    const score = async (batch: number) => {
      const run = await pythia(
        [
          'score',
          '--model',
          fixtureFolder('tiny-neox-bin'),
          '--stride',
          '64',
          '--batch-size',
          `${batch}`,
          '--json',
        ],
        { input: text },
      );
      expect(run.code, run.stderr).toBe(0);
      return JSON.parse(run.stdout) as {
        tokens: Array<{ position: number; id: number; logprob: number }>;
        loss: number;
      };
    };
    const one = await score(1);
    const four = await score(4);
    expect(four.tokens.map((t) => [t.position, t.id])).toEqual(
      one.tokens.map((t) => [t.position, t.id]),
    );
    const logprobs = (s: typeof one) => s.tokens.map((t) => t.logprob);
    expect(maxAbsDiff(logprobs(four), logprobs(one))).toBeLessThan(1e-4);
    expect(four.loss.toFixed(4)).toBe(one.loss.toFixed(4));
    // The last window's tokens, as that window alone gives them in-process.
    const last = windows.at(-1)!;
    const alone = await tokenLogprobs(small, ids.slice(last.start, last.end));
    expect(
      maxAbsDiff(logprobs(four).slice(last.first - 1), alone.slice(last.first - last.start - 1)),
    ).toBeLessThan(1e-4);
  });

  it('prints the logit lens per layer and position, and attention patterns for CircuitsVis', async () => {
    const attention = join(cache, 'attention.json');
    const run = await pythia([
      'lens',
      '--model',
      fixtureFolder('tiny-neox-f16'),
      '--text',
      hello!.text!,
      '--json',
      '--attention',
      attention,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const lens = JSON.parse(run.stdout);
    expect(lens.tokens).toEqual(['Hello', ',', ' I', ' am']);
    expect(lens.layers.map((l: { name: string }) => l.name)).toEqual([
      'hook_embed',
      'blocks.0.hook_resid_post',
      'blocks.1.hook_resid_post',
    ]);
    // The last layer's lens is the model's own prediction: the golden greedy token at the end.
    expect(lens.layers[2].top[3].id).toBe(hello!.greedy[0]);
    const patterns = JSON.parse(readFileSync(attention, 'utf8'));
    expect(patterns.tokens).toEqual(['Hello', ',', ' I', ' am']);
    expect(patterns.layers).toHaveLength(2);
    const pattern: number[][][] = patterns.layers[1].pattern; // [heads, dest, src]
    expect([pattern.length, pattern[0]!.length, pattern[0]![0]!.length]).toEqual([2, 4, 4]);
    for (const head of pattern) {
      head.forEach((row, dest) => {
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        expect(row.slice(dest + 1).every((p) => p === 0)).toBe(true); // causal
      });
    }
  });

  it('lens --top-k, --target next and --token give the lens of the model package at the positions asked for', async () => {
    const ids = hello!.ids;
    const args = ['lens', '--model', fixtureFolder('tiny-neox-f16'), '--text', hello!.text!];
    const run = await pythia([
      ...args,
      '--top-k',
      '5',
      '--target',
      'next',
      '--position',
      '0,-1',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.positions).toEqual([0, 3]);
    const lens = await logitLens(f16, ids, { positions: [0, 3], topK: 5, tokens: 'next' });
    type Entry = { id: number; prob: number; logprob: number; rank: number };
    lens.forEach((layer, l) => {
      const got = out.layers[l];
      expect(got.name).toBe(layer.name);
      expect(got.top.map((t: Entry) => t.id)).toEqual(layer.topIds);
      const topK = got.top_k.flat() as Entry[];
      expect(topK.map((t) => t.id)).toEqual([...layer.topK!.ids]);
      expect(
        maxAbsDiff(
          topK.map((t) => t.prob),
          layer.topK!.probs,
        ),
      ).toBeLessThan(1e-6);
      // Position 0's next token is ids[1]; the last position has none.
      expect(got.chosen[0]).toMatchObject({ id: ids[1], rank: layer.chosen!.rank[0] });
      expect(Math.abs(got.chosen[0].prob - layer.chosen!.prob[0]!)).toBeLessThan(1e-6);
      expect(got.chosen[1]).toBeNull();
    });

    // A token given as text, shown per layer at the last position.
    const the = tokenizer.encode(' the');
    expect(the).toHaveLength(1);
    const table = await pythia([...args, '--token', ' the']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(
      /^position 3, after " am": p\(" the"\) by layer\nlayer +p +rank +top\n/,
    );
    const last = await logitLens(f16, ids, { positions: [-1], tokens: the });
    const ranks = table.stdout
      .trim()
      .split('\n')
      .slice(2)
      .map((line) => Number(line.split(/ {2,}/)[2]));
    expect(ranks).toEqual(last.map((l) => l.chosen!.rank[0]));
    // The same token by id.
    const byId = await pythia([...args, '--token', String(the[0]), '--position', '-1']);
    expect(byId.stdout).toBe(table.stdout);

    for (const [bad, message] of [
      [['--top-k', '65'], /--top-k must be at most 64, got 65/],
      [['--token', ' Paris France'], /is 2 tokens .*not one/],
      [['--token', '1', '--target', 'next'], /give --token or --target next, not both/],
      [['--target', 'prev'], /--target takes next/],
      [['--position', '4'], /--position 4 is not a position of the 4 tokens/],
    ] as const) {
      const refused = await pythia([...args, ...bad]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(message);
    }
  });

  it('sweeps three checkpoints of a repo: one row each, from the same prompt', async () => {
    const run = await pythia(
      [
        'sweep',
        ...TINY,
        '--revisions',
        'step0,step1000,main',
        '--prompt',
        'It was the best of all, and it was the',
        '--csv',
        '--top-k',
        '3',
      ],
      { env },
    );
    expect(run.code, run.stderr).toBe(0);
    const [header, ...rows] = run.stdout.trim().split('\n');
    expect(header).toBe(
      'revision,commit,loss,top1_id,top1_token,top1_prob,top2_id,top2_token,top2_prob,top3_id,top3_token,top3_prob',
    );
    expect(rows.map((r) => r.split(',').slice(0, 2))).toEqual([
      ['step0', STEP0],
      ['step1000', STEP1000],
      ['main', MAIN],
    ]);
    const losses = rows.map((r) => Number(r.split(',')[2]));
    for (const loss of losses) expect(loss).toBeGreaterThan(0);
    expect(new Set(losses).size).toBe(3); // three different checkpoints
    expect(run.stderr).toBe('');
  });

  it("sweep --lens-token adds each checkpoint's logit lens of the token, as logitLens gives it on that checkpoint", async () => {
    const prompt = 'It was the best of all, and it was the';
    const ids = tokenizer.encode(prompt);
    const best = tokenizer.encode(' best');
    expect(best).toHaveLength(1);
    const sweep = (more: string[], revisions = 'step0,step1000,main') =>
      pythia(['sweep', ...TINY, '--revisions', revisions, '--prompt', prompt, ...more], { env });

    // The expectation: each checkpoint's fixture folder, loaded here, through the model package.
    const sharded = await NeoXModel.load({ folder: fixtureFolder('tiny-neox-f32-sharded') });
    const expected = new Map<string, LensLayer[]>();
    try {
      for (const [revision, model] of [
        ['step0', small],
        ['step1000', sharded],
        ['main', f16],
      ] as const)
        expected.set(revision, await logitLens(model, ids, { tokens: best, positions: [-1] }));
    } finally {
      sharded.dispose();
    }
    const names = (revision: string) => expected.get(revision)!.map((l) => l.name);
    expect(names('step1000')).toEqual([
      'hook_embed',
      'blocks.0.hook_resid_post',
      'blocks.1.hook_resid_post',
      'blocks.2.hook_resid_post', // step1000's fixture has 3 layers, the others 2
    ]);

    const json = await sweep(['--lens-token', ' best', '--json']);
    expect(json.code, json.stderr).toBe(0);
    type Lens = {
      id: number;
      token: string;
      partial_utf8: boolean;
      position: number;
      layers: Array<{ name: string; prob: number; rank: number }>;
    };
    const checkpoints: Array<{ revision: string; lens: Lens }> = JSON.parse(
      json.stdout,
    ).checkpoints;
    expect(checkpoints.map((c) => c.revision)).toEqual(['step0', 'step1000', 'main']);
    for (const { revision, lens } of checkpoints) {
      const want = expected.get(revision)!;
      expect(lens).toMatchObject({
        id: best[0],
        token: ' best',
        partial_utf8: false,
        position: ids.length - 1,
      });
      expect(lens.layers.map((l) => l.name)).toEqual(names(revision));
      expect(lens.layers.map((l) => l.rank)).toEqual(want.map((l) => l.chosen!.rank[0]));
      expect(
        maxAbsDiff(
          lens.layers.map((l) => l.prob),
          want.map((l) => l.chosen!.prob[0]!),
        ),
      ).toBeLessThan(1e-6);
    }
    // The same token by id gives the same numbers.
    const byId = await sweep(['--lens-token', String(best[0]), '--json'], 'main');
    expect(JSON.parse(byId.stdout).checkpoints[0].lens).toEqual(checkpoints[2]!.lens);

    // CSV: a probability and a rank column per layer, named after it; a checkpoint without a
    // layer leaves its cells empty.
    const csv = await sweep(['--lens-token', ' best', '--csv', '--top-k', '2']);
    expect(csv.code, csv.stderr).toBe(0);
    const [header, ...rows] = csv.stdout.trim().split('\n');
    const lensColumns = names('step1000').flatMap((n) => [`lens_p_${n}`, `lens_rank_${n}`]);
    expect(header).toBe(
      [
        'revision,commit,loss,top1_id,top1_token,top1_prob,top2_id,top2_token,top2_prob',
        ...lensColumns,
      ].join(','),
    );
    rows.forEach((row, i) => {
      const cells = row.split(',').slice(-lensColumns.length);
      const { layers } = checkpoints[i]!.lens;
      const want = names('step1000').flatMap((n) => {
        const layer = layers.find((l) => l.name === n);
        return layer ? [String(layer.prob), String(layer.rank)] : ['', ''];
      });
      expect(cells).toEqual(want);
    });
    expect(rows[0]!.endsWith(',,')).toBe(true); // step0 has no blocks.2

    // The table: today's, then a table of the token's probability per checkpoint and layer.
    const plain = await sweep([]);
    const table = await sweep(['--lens-token', ' best']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.startsWith(plain.stdout)).toBe(true);
    const lensTable = table.stdout.slice(plain.stdout.length).split('\n');
    expect(lensTable[0]).toBe('');
    expect(lensTable[1]).toBe(`position ${ids.length - 1}, after " the": p(" best") by layer`);
    expect(lensTable[2]).toMatch(/^revision +embed +L0 +L1 +L2$/);
    expect(lensTable[3]).toMatch(/^step0 +\S+ +\S+ +\S+ +–$/);
    const step1000 = lensTable[4]!.split(/ +/);
    expect(step1000[0]).toBe('step1000');
    step1000.slice(1).forEach((cell, l) => {
      const p = expected.get('step1000')![l]!.chosen!.prob[0]!;
      expect(cell).toBe(p >= 0.001 ? p.toFixed(3) : p.toExponential(1));
    });
    // Without --lens-token, no lens: the rows are today's.
    const without = JSON.parse((await sweep(['--json'], 'main')).stdout);
    expect(without.checkpoints[0]).not.toHaveProperty('lens');
  });

  it('sweep refuses a --lens-token that is not one token, or outside the vocabulary, before downloading weights', async () => {
    const own = await new FakeHub(hubRepos()).start();
    const dir = await mkdtemp(join(tmpdir(), 'pythia-lens-token-'));
    try {
      for (const [token, message] of [
        [
          ' Paris France',
          /^pythia: --lens-token " Paris France" is 2 tokens \(" Paris" " France"\), not one; /,
        ],
        ['', /--lens-token "" is 0 tokens, not one/],
        ['3000', /--lens-token 3000 is outside the model's vocabulary of 2048 ids/], // step0's
      ] as const) {
        const run = await pythia(
          [
            'sweep',
            ...TINY,
            '--revisions',
            'step0,main',
            '--prompt',
            'It was the',
            '--lens-token',
            token,
          ],
          { env: { ...env, HF_ENDPOINT: own.hubOrigin, HF_HUB_CACHE: dir } },
        );
        expect(run.code).toBe(2);
        expect(run.stdout).toBe('');
        expect(run.stderr.trim().split('\n')).toHaveLength(1);
        expect(run.stderr).toMatch(message);
      }
      expect(
        own.requests.filter(
          (r) => /model\.safetensors|pytorch_model/.test(r.url) || r.origin === 'cdn',
        ),
      ).toEqual([]);
    } finally {
      await own.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('shows a next token that is part of a UTF-8 character by its byte-level spelling, not "�"', async () => {
    const run = await pythia(
      [
        'sweep',
        ...TINY,
        '--revisions',
        'main',
        '--prompt',
        'It was the best of all, and it was the',
        '--top-k',
        '20',
        '--json',
      ],
      { env },
    );
    expect(run.code, run.stderr).toBe(0);
    const top: Array<{ id: number; token: string; partial_utf8: boolean; prob: number }> =
      JSON.parse(run.stdout).checkpoints[0].top;
    expect(top.some((t) => t.token.includes('\uFFFD'))).toBe(false);
    // Id 35169 is the bytes EC 8B, the first two of a three-byte Hangul syllable: alone it
    // decodes to "�", and Hugging Face's convert_ids_to_tokens spells it "ìĭ".
    expect(tokenizer.decode([35169])).toBe('\uFFFD');
    expect(top).toContainEqual(
      expect.objectContaining({ id: 35169, token: 'ìĭ', partial_utf8: true }),
    );
    for (const t of top.filter((t) => !t.partial_utf8))
      expect(t.token).toBe(tokenizer.decode([t.id]));

    const table = await pythia(
      [
        'sweep',
        ...TINY,
        '--revisions',
        'main',
        '--prompt',
        'It was the best of all, and it was the',
        '--top-k',
        '20',
      ],
      { env },
    );
    expect(table.stdout).toContain('⟨ìĭ⟩');
    expect(table.stdout).not.toContain('\uFFFD');
  });
});

describe("--dtype: the checkpoint's own by default", () => {
  const [f32Case] = golden('tiny-neox-f32-sharded');

  it('loads an f32 checkpoint as f32: logits within 1e-4 of the float64 reference', async () => {
    const out = join(cache, 'f32.npy');
    const run = await pythia([
      'logits',
      '--model',
      fixtureFolder('tiny-neox-f32-sharded'),
      '--ids',
      f32Case!.ids.join(','),
      '--out',
      out,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(maxAbsDiff(decodeNpy(readFileSync(out)).data, f32Case!.logits_last)).toBeLessThanOrEqual(
      1e-4,
    );
  });

  it('takes f16 when asked, and says so where it reports the dtype', async () => {
    const out = join(cache, 'f32-as-f16.npy');
    const args = ['--model', fixtureFolder('tiny-neox-f32-sharded')];
    const run = await pythia([
      'logits',
      ...args,
      '--ids',
      f32Case!.ids.join(','),
      '--out',
      out,
      '--dtype',
      'f16',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(maxAbsDiff(decodeNpy(readFileSync(out)).data, f32Case!.logits_last)).toBeGreaterThan(
      1e-4,
    );
    const bench = async (dtype: string[]) =>
      JSON.parse(
        (await pythia(['bench', ...args, '--prefill', '4', '--decode', '2', '--json', ...dtype]))
          .stdout,
      ).dtype;
    expect(await bench([])).toBe('f32');
    expect(await bench(['--dtype', 'f16'])).toBe('f16');
  });

  it('estimates the memory of the weights in the dtype they load in', async () => {
    // 2 MB holds this checkpoint's weights in f16 (1.5 MB) but not in f32, its own (2.9 MB):
    // `--dtype f32` is refused, `auto` loads them quantized (and says so), `f16` as asked.
    const args = [
      'logits',
      '--model',
      fixtureFolder('tiny-neox-f32-sharded'),
      '--ids',
      '1,2,3',
      '--out',
      join(cache, 'budget.npy'),
      '--memory-budget',
      '2MB',
    ];
    const refused = await pythia([...args, '--dtype', 'f32']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /needs about [\d.]+ MB of GPU memory in f32 \(weights 2\.9 MB.*; --dtype q8 fits it/,
    );
    const auto = await pythia(args);
    expect(auto.code, auto.stderr).toBe(0);
    expect(auto.stderr).toMatch(
      /: f32 needs about [\d.]+ MB, more than the --memory-budget of 2\.0 MB; loading q8 /,
    );
    expect((await pythia([...args, '--dtype', 'f16'])).code).toBe(0);
  });
});

describe('pythia bench', () => {
  it('prints one JSON line with speeds, sizes, the adapter and its read bandwidth', async () => {
    const run = await pythia([
      'bench',
      '--model',
      fixtureFolder('tiny-neox-f16'),
      '--prefill',
      '16',
      '--decode',
      '8',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    const out = JSON.parse(run.stdout);
    expect(out).toMatchObject({ prefill_tokens: 16, decode_tokens: 8, dtype: 'f16' });
    // 32 × 50 304 × 2 (embedding and unembedding, f16) + 2 layers + LayerNorms.
    expect(out.weight_bytes).toBeGreaterThan(2 * 32 * 50304 * 2);
    for (const key of [
      'decode_tokens_per_s',
      'prefill_tokens_per_s',
      'first_token_ms',
      'load_s',
      'read_gb_s',
    ])
      expect(out[key]).toBeGreaterThan(0);
    expect(out.adapter).toMatch(/\w/);
  });
});

describe('pythia bench --batch', () => {
  const bench = async (batch: number) => {
    const run = await pythia([
      'bench',
      '--model',
      fixtureFolder('tiny-neox-f16'),
      '--batch',
      `${batch}`,
      '--prompt-tokens',
      '8',
      '--decode',
      '4',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    return JSON.parse(run.stdout);
  };

  it('measures sequences prefilled and decoded together: per step, its kernels, its JavaScript, its memory', async () => {
    const out = await bench(2);
    expect(out).toMatchObject({ batch: 2, prefill_tokens: 8, decode_tokens: 4, dtype: 'f16' });
    for (const key of [
      'prefill_tokens_per_s',
      'first_token_ms',
      'decode_tokens_per_s',
      'decode_dispatches_per_step',
      'decode_js_ms_per_step',
      'gpu_bytes',
      'read_gb_s',
    ])
      expect(out[key]).toBeGreaterThan(0);
    // The JavaScript of a step is part of its wall time: batch / (tokens/s) seconds.
    expect(out.decode_js_ms_per_step).toBeLessThan((1000 * 2) / out.decode_tokens_per_s);
    // The device holds the weights, and the cache and activations besides.
    expect(out.gpu_bytes).toBeGreaterThan(out.weight_bytes);
    // One decode step is one set of kernels for the whole batch: as many as for one sequence.
    const single = await bench(1);
    expect(out.decode_dispatches_per_step).toBe(single.decode_dispatches_per_step);
    expect(Number.isInteger(out.decode_dispatches_per_step)).toBe(true);
  });
});

describe('pythia download, cache and refs', () => {
  it('lists the checkpoints in training order and warns where weights are identical', async () => {
    const run = await pythia(['refs', 'EleutherAI/pythia-tiny'], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(
      run.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(['branch', 'step0', 'step1000', 'step143000', 'main']);
    expect(run.stderr).toBe(
      'pythia: warning: step143000, main have identical weights (the Hub serves the same files)\n',
    );
  });

  it('downloads every branch with --all-revisions, main included, in training order', async () => {
    const own = await new FakeHub({
      'EleutherAI/pythia-small': {
        branches: { main: 'c'.repeat(40), step1: '1'.repeat(40), step0: '0'.repeat(40) },
        commits: {
          ['0'.repeat(40)]: { 'config.json': '{"step": 0}' },
          ['1'.repeat(40)]: { 'config.json': '{"step": 1}' },
          ['c'.repeat(40)]: { 'config.json': '{"step": 1}', 'README.md': '# small\n' },
        },
      },
    }).start();
    const dir = await mkdtemp(join(tmpdir(), 'pythia-all-'));
    try {
      const run = await pythia(
        ['download', 'EleutherAI/pythia-small', '--all-revisions', '--json'],
        {
          env: hubEnv(own.hubOrigin, dir),
        },
      );
      expect(run.code, run.stderr).toBe(0);
      const { revisions } = JSON.parse(run.stdout);
      expect(revisions.map((r: { revision: string }) => r.revision)).toEqual([
        'step0',
        'step1',
        'main',
      ]);
      expect(revisions.at(-1)).toMatchObject({ commit: 'c'.repeat(40), files: 2 });
    } finally {
      await own.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('offline, says a checkpoint is only partly cached rather than naming a shard', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pythia-partial-'));
    try {
      // An interrupted download of step1000: the config, the index and the first shard.
      const online = new NodeHubCache({
        dir,
        client: new HubClient({ endpoint: hub.hubOrigin }),
        offline: false,
      });
      for (const path of [
        'config.json',
        'model.safetensors.index.json',
        'model-00001-of-00002.safetensors',
      ])
        await online.file('EleutherAI/pythia-tiny', 'step1000', path);
      const run = await pythia(
        ['generate', ...TINY, '--revision', 'step1000', '--ids', '1,2', '--memory-budget', 'none'],
        { env: { HF_ENDPOINT: hub.hubOrigin, HF_HUB_CACHE: dir, HF_HUB_OFFLINE: '1' } },
      );
      expect(run).toEqual({
        code: 1,
        stdout: '',
        stderr:
          'pythia: EleutherAI/pythia-tiny@step1000 is only partly cached (3 of 4 files: missing ' +
          'model-00002-of-00002.safetensors); download it first (pythia download ' +
          'EleutherAI/pythia-tiny --revision step1000) or unset HF_HUB_OFFLINE\n',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fills the cache in the Hugging Face layout, then works offline with the Hub gone', async () => {
    const own = await new FakeHub(hubRepos()).start();
    const dir = await mkdtemp(join(tmpdir(), 'pythia-offline-'));
    try {
      const online = hubEnv(own.hubOrigin, dir);
      const download = await pythia(['download', 'EleutherAI/pythia-tiny', '--revision', 'main'], {
        env: online,
      });
      expect(download.code, download.stderr).toBe(0);
      expect(download.stdout).toMatch(/EleutherAI\/pythia-tiny@main \(cccccccccccc\): 2 files/);
      const repo = join(dir, 'models--EleutherAI--pythia-tiny');
      expect(readFileSync(join(repo, 'refs', 'main'), 'utf8')).toBe(MAIN);
      const weights = join(repo, 'snapshots', MAIN, 'model.safetensors');
      expect(lstatSync(weights).isSymbolicLink()).toBe(true);
      const sha = sha256Hex(
        readFileSync(join(fixtureFolder('tiny-neox-f16'), 'model.safetensors')),
      );
      expect(readlinkSync(weights)).toBe(`../../blobs/${sha}`);
    } finally {
      await own.stop();
    }
    try {
      const offline = { HF_ENDPOINT: own.hubOrigin, HF_HUB_CACHE: dir, HF_HUB_OFFLINE: '1' };
      const run = await pythia(
        [
          'generate',
          ...TINY,
          '--temperature',
          '0',
          '--ids',
          hello!.ids.join(','),
          '--max-new-tokens',
          '8',
          '--json',
        ],
        { env: offline },
      );
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout).ids).toEqual(hello!.greedy);
      const ls = JSON.parse((await pythia(['cache', 'ls', '--json'], { env: offline })).stdout);
      expect(ls.repos).toMatchObject([
        { repo: 'EleutherAI/pythia-tiny', revisions: [{ commit: MAIN, refs: ['main'] }] },
      ]);
      expect(await pythia(['cache', 'verify'], { env: offline })).toMatchObject({ code: 0 });
      const removed = await pythia(['cache', 'rm', 'EleutherAI/pythia-tiny', '--json'], {
        env: offline,
      });
      expect(JSON.parse(removed.stdout).freed_bytes).toBeGreaterThan(6_000_000);
      expect((await pythia(['cache', 'ls'], { env: offline })).stdout).toMatch(/^nothing cached/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('errors: the exit code, and one line that says what to do', () => {
  const long = Array.from({ length: 2049 }, () => '5').join(',');
  const cases: Array<[string, string[], number, RegExp]> = [
    [
      'an unknown repo',
      ['generate', '--model', 'EleutherAI/pythia-nope', '--ids', '1'],
      2,
      /the Hub has no repository EleutherAI\/pythia-nope/,
    ],
    [
      'an unknown revision',
      ['generate', ...TINY, '--revision', 'step7', '--ids', '1'],
      2,
      /EleutherAI\/pythia-tiny has no revision step7/,
    ],
    [
      'a corrupt weight file',
      ['generate', '--model', 'EleutherAI/pythia-corrupt', '--ids', '1'],
      1,
      /model\.safetensors is corrupt or truncated/,
    ],
    [
      'a negative --max-new-tokens',
      ['generate', '--max-new-tokens', '-1', 'x'],
      2,
      /--max-new-tokens must be an integer ≥ 1/,
    ],
    [
      'a prompt longer than the context',
      ['generate', ...TINY, '--ids', long],
      2,
      /the input is 2049 tokens but the model reads at most 2048/,
    ],
    [
      'a token id outside the vocabulary',
      ['generate', ...TINY, '--ids', '12092,50304'],
      2,
      /token id 50304 at position 1 is outside the model's vocabulary of 50304 ids/,
    ],
    [
      'a --model and a --revision that disagree',
      ['generate', '--model', 'pythia-70m@step1', '--revision', 'step2', 'x'],
      2,
      /pythia-70m@step1 names revision step1 and the revision option says step2; give one/,
    ],
    [
      'a --revision for a local folder',
      ['generate', '--model', fixtureFolder('tiny-neox-f16'), '--revision', 'step2', 'x'],
      2,
      /revision step2 applies to Hub repos; .* is a local folder/,
    ],
    [
      'a temperature out of range',
      ['generate', '--temperature', 'hot', 'x'],
      2,
      /--temperature must be a number/,
    ],
    ['an unknown model name', ['generate', '--model', 'pythia-69m', 'x'], 2, /not a Pythia model/],
    [
      'a missing local folder',
      ['generate', '--model', './no-such-checkpoint', 'x'],
      2,
      /no-such-checkpoint is not a folder/,
    ],
    [
      'an unknown --dtype',
      ['logits', '--dtype', 'f8', '--ids', '1', '--out', 'x.npy'],
      2,
      /--dtype.*f8.*f16, f32/,
    ],
    [
      'a --batch-size of 0',
      ['score', '--batch-size', '0', 'x'],
      2,
      /--batch-size must be an integer ≥ 1, got "0"/,
    ],
    [
      'a --batch-size that is not a number',
      ['eval', 'lambada_openai', '--file', 'lambada.jsonl', '--batch-size', 'junk'],
      2,
      /--batch-size must be an integer ≥ 1, got "junk"/,
    ],
    [
      'both --prompt-tokens and --prefill',
      ['bench', '--prompt-tokens', '8', '--prefill', '16'],
      2,
      /--prompt-tokens and --prefill are the same option; give one of them/,
    ],
    ['an unknown command', ['nope'], 2, /unknown command 'nope'/],
    ['ids that are not integers', ['detokenize', '1,x,3'], 2, /"x" is not a token id/],
  ];
  for (const [what, args, code, message] of cases) {
    it(`exits ${code} with one line on ${what}`, async () => {
      const run = await pythia(args, { env });
      expect(run.code).toBe(code);
      expect(run.stdout).toBe('');
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(message);
    });
  }

  it('says webgpu is missing before it downloads a model, not after', async () => {
    // Node as it runs where the webgpu package is not installed: importing it fails.
    const hook = `export async function resolve(specifier, context, next) {
      if (specifier === 'webgpu') throw new Error("Cannot find package 'webgpu'");
      return next(specifier, context);
    }`;
    const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
    const own = await new FakeHub(hubRepos()).start();
    const dir = await mkdtemp(join(tmpdir(), 'pythia-no-webgpu-'));
    try {
      const run = await pythia(['generate', ...TINY, '--ids', '1', '--memory-budget', 'none'], {
        env: {
          ...hubEnv(own.hubOrigin, dir),
          NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(register)}`,
        },
      });
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(
        "pythia: WebGPU in Node needs Dawn, the 'webgpu' package: reinstall @pythiajs/cli\n",
      );
      expect(
        own.requests.filter((r) => r.url.includes('model.safetensors') || r.origin === 'cdn'),
      ).toEqual([]);
    } finally {
      await own.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 1 when the Hub cannot be reached, pointing at HF_ENDPOINT and offline mode', async () => {
    const run = await pythia(['generate', '--ids', '1'], {
      env: { ...env, HF_ENDPOINT: 'http://127.0.0.1:9' },
    });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(
      /could not fetch .* check the connection or HF_ENDPOINT, or set HF_HUB_OFFLINE=1/,
    );
  });

  it('adds the stack trace with --verbose', async () => {
    const run = await pythia(
      ['--verbose', 'generate', '--model', 'EleutherAI/pythia-nope', '--ids', '1'],
      { env },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/\n\s+at /);
  });

  it('prints help for every command and exits 0', async () => {
    const { code, stdout } = await pythia(['--help']);
    expect(code).toBe(0);
    for (const command of [
      'generate',
      'tokenize',
      'detokenize',
      'logits',
      'score',
      'sweep',
      'lens',
      'activations',
      'download',
      'cache',
      'refs',
      'eval',
      'bench',
    ])
      expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    const generate = await pythia(['generate', '--help']);
    expect(generate.stdout).toMatch(/--model <ref>.*\n.*pythia-70m-deduped@step3000/);
    expect(generate.stdout).toMatch(/HF_HUB_OFFLINE/);
  });
});
