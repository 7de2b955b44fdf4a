import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { freemem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PYTHIA_MODELS } from '@pythiajs/checkpoint-hub';
import { FakeHub } from '@pythiajs/checkpoint-hub/testing';
import {
  estimateMemory,
  type MemoryEstimate,
  parseNeoXConfig,
  pythiaConfig,
  type WeightDtype,
} from '@pythiajs/neox-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseByteSize, parseMemoryBudget } from '../src/byte-size.js';
import { formatBytes } from '../src/format.js';
import { isSoftwareAdapter } from '../src/gpu.js';
import {
  type AdapterMemory,
  checkMemory,
  decideDtype,
  largestPythiaWithin,
  memoryNeeds,
  memoryRefusal,
} from '../src/memory-check.js';
import { fixtureCommit, hubEnv, pythia } from './support.js';

const GB = 1e9;
const estimate = (total: number): MemoryEstimate => ({
  weights: total * 0.8,
  kvCache: total * 0.15,
  activations: total * 0.05,
  total,
});
const lavapipe: AdapterMemory = {
  description: 'llvmpipe',
  software: true,
  maxBufferSize: 2 ** 32 - 1,
  maxStorageBufferBindingSize: 2 ** 27,
};
const gpu: AdapterMemory = { ...lavapipe, description: 'NVIDIA H200', software: false };
const machine = { totalmem: 24 * GB, freemem: 20 * GB };

describe('--memory-budget sizes', () => {
  it('reads decimal and binary units, and plain bytes', () => {
    expect(parseByteSize('8GB', '--x')).toBe(8e9);
    expect(parseByteSize('512MB', '--x')).toBe(512e6);
    expect(parseByteSize('1KB', '--x')).toBe(1000);
    expect(parseByteSize('1.5GiB', '--x')).toBe(1.5 * 2 ** 30);
    expect(parseByteSize('64 MiB', '--x')).toBe(64 * 2 ** 20);
    expect(parseByteSize('8g', '--x')).toBe(8e9);
    expect(parseByteSize('1048576', '--x')).toBe(1048576);
    expect(parseByteSize('100b', '--x')).toBe(100);
  });

  it('turns the check off with none or 0, and refuses anything else as a usage error', () => {
    expect(parseMemoryBudget('none')).toBe('none');
    expect(parseMemoryBudget('0')).toBe('none');
    expect(parseMemoryBudget('0GB')).toBe('none');
    for (const bad of ['', 'lots', '-1GB', '8 gigabytes', '1e9', 'GB'])
      expect(() => parseMemoryBudget(bad)).toThrow(/--memory-budget takes a size such as 8GB/);
  });
});

describe('isSoftwareAdapter', () => {
  it('tells CPU implementations, whose memory is system memory, from GPUs', () => {
    const lavapipeInfo = {
      vendor: 'mesa',
      architecture: 'software',
      description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)',
    };
    expect(isSoftwareAdapter(lavapipeInfo)).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'google', architecture: 'swiftshader' })).toBe(true);
    expect(isSoftwareAdapter({ description: 'Microsoft Basic Render Driver' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'x', isFallbackAdapter: true })).toBe(true);
    const nvidia = { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' };
    expect(isSoftwareAdapter(nvidia)).toBe(false);
    expect(isSoftwareAdapter({ vendor: 'apple', architecture: 'metal-3' })).toBe(false);
  });
});

describe('checkMemory: what a model may use on this machine', () => {
  const needs = (total: number) => ({ estimate: estimate(total), bindingBytes: 80_000 });

  it('holds a software adapter to the free system memory, which its buffers live in', () => {
    const input = { ...needs(21 * GB), budget: undefined, adapter: lavapipe, ...machine };
    expect(checkMemory(input)).toEqual({
      fits: false,
      reason: 'memory',
      limit: 20 * GB,
      limitText:
        'the 20.00 GB of free system memory (of 24.00 GB) that llvmpipe, a software adapter, can use',
    });
    expect(checkMemory({ ...input, ...needs(19 * GB) })).toEqual({ fits: true });
  });

  it('does not guess the video memory of a hardware adapter', () => {
    const input = { ...needs(500 * GB), budget: undefined, adapter: gpu, ...machine };
    expect(checkMemory(input)).toEqual({ fits: true });
  });

  it('holds any adapter to an explicit budget, and none turns the check off', () => {
    const over = { ...needs(2 * GB), budget: 1 * GB, adapter: undefined, ...machine };
    expect(checkMemory(over)).toMatchObject({
      fits: false,
      limit: GB,
      limitText: 'the --memory-budget of 1.00 GB',
    });
    expect(checkMemory({ ...over, budget: 3 * GB })).toEqual({ fits: true });
    expect(checkMemory({ ...over, budget: 'none', adapter: lavapipe })).toEqual({ fits: true });
  });

  it('refuses a row wider than one buffer binding (tensor-core splits matrices by rows only)', () => {
    const tiny = { ...gpu, maxStorageBufferBindingSize: 65_536 };
    const input = { ...needs(GB), budget: undefined, adapter: tiny, ...machine };
    expect(checkMemory(input)).toMatchObject({ fits: false, reason: 'binding', limit: 65_536 });
  });
});

describe('memoryNeeds and the Pythia model to suggest', () => {
  it("estimates a command's use: the longest pass, and the cache it keeps, within the context", () => {
    const config = pythiaConfig('pythia-1b');
    const generate = memoryNeeds(config, 'f16', { tokens: 10, contextLength: 5000 });
    expect(generate.estimate).toEqual(
      estimateMemory(config, { dtype: 'f16', tokens: 10, contextLength: 2048 }),
    );
    const logits = memoryNeeds(config, 'f32', { tokens: 7 });
    expect(logits.estimate).toEqual(
      estimateMemory(config, { dtype: 'f32', tokens: 7, contextLength: 7 }),
    );
    expect(logits.bindingBytes).toBe(4 * 8192); // the MLP's 4 × 2048 wide rows, f32
  });

  it('names the largest Pythia model within the limit, deduplicated when the refused one was', () => {
    const use = { tokens: 16, contextLength: 2048 };
    const size = (name: string) => memoryNeeds(pythiaConfig(name), 'f16', use).estimate.total;
    const limit = (size('pythia-6.9b') + size('pythia-12b')) / 2;
    expect(largestPythiaWithin(limit, 'f16', use, false)).toEqual({
      name: 'pythia-6.9b',
      total: size('pythia-6.9b'),
    });
    expect(largestPythiaWithin(limit, 'f16', use, true)?.name).toBe('pythia-6.9b-deduped');
    expect(largestPythiaWithin(size('pythia-31m'), 'f16', use, true)?.name).toBe('pythia-31m');
    expect(largestPythiaWithin(1000, 'f16', use, false)).toBeUndefined();
  });

  it('says it in one line: the estimate, the limit, the model that fits, the flag', () => {
    const verdict = checkMemory({
      estimate: estimate(26.8 * GB),
      bindingBytes: 80_000,
      budget: undefined,
      adapter: lavapipe,
      ...machine,
    });
    if (verdict.fits) throw new Error('expected a refusal');
    expect(
      memoryRefusal(
        'EleutherAI/pythia-12b@main',
        { dtype: 'f16', needs: { estimate: estimate(26.8 * GB), bindingBytes: 80_000 } },
        verdict,
        {
          fitsIn: { dtype: 'q8', total: 14.6 * GB },
          smaller: [
            { dtype: 'f16', name: 'pythia-6.9b', total: 15.96 * GB },
            { dtype: 'q8', name: 'pythia-12b', total: 14.6 * GB },
            { dtype: 'q4', name: 'pythia-12b', total: 9.1 * GB },
          ],
        },
      ),
    ).toBe(
      'EleutherAI/pythia-12b@main needs about 26.80 GB of GPU memory in f16 (weights 21.44 GB, KV cache 4.02 GB, ' +
        'activations 1.34 GB), more than the 20.00 GB of free system memory (of 24.00 GB) that llvmpipe, ' +
        'a software adapter, can use; --dtype q8 fits it (about 14.60 GB); pythia-6.9b fits in f16 ' +
        '(about 15.96 GB), pythia-12b in q8 (about 14.60 GB), or set --memory-budget <size> ' +
        'to override (none turns the check off)',
    );
  });
});

describe('decideDtype: --dtype auto loads what fits, and says so', () => {
  const config = pythiaConfig('pythia-12b');
  const use = { tokens: 16, contextLength: 2048 };
  const label = 'EleutherAI/pythia-12b@main';
  const total = (dtype: WeightDtype, name = 'pythia-12b') =>
    memoryNeeds(pythiaConfig(name), dtype, use).estimate.total;
  const limits = (budget: number) => ({ budget, adapter: undefined, ...machine });
  const decide = (asked: 'auto' | WeightDtype, budget: number) =>
    decideDtype(label, config, asked, 'f16', () => use, limits(budget));

  it('counts a quantized model as neox-model loads it: embed_in in the checkpoint dtype', () => {
    for (const dtype of ['q8', 'q4'] as const) {
      expect(memoryNeeds(config, dtype, use).estimate.weights).toBe(
        estimateMemory(config, { dtype, embedDtype: 'f16' }).weights,
      );
      expect(memoryNeeds(config, dtype, use, 'f32').estimate.weights).toBe(
        estimateMemory(config, { dtype, embedDtype: 'f32' }).weights,
      );
    }
    expect(total('f16')).toBeGreaterThan(total('q8'));
    expect(total('q8')).toBeGreaterThan(total('q4'));
  });

  it("keeps the checkpoint's dtype when it fits, without a word", () => {
    expect(decide('auto', total('f16'))).toEqual({
      fits: true,
      dtype: 'f16',
      needs: memoryNeeds(config, 'f16', use),
    });
  });

  it('loads the widest quantized dtype that fits, in one line with the numbers', () => {
    const q8 = decide('auto', total('f16') - 1);
    expect(q8).toMatchObject({ fits: true, dtype: 'q8' });
    expect(q8.fits && q8.notice).toBe(
      `${label}: f16 needs about ${formatBytes(total('f16'))}, more than the --memory-budget of ` +
        `${formatBytes(total('f16') - 1)}; loading q8 (about ${formatBytes(total('q8'))}) instead — ` +
        'pass --dtype to choose',
    );
    const q4 = decide('auto', total('q8') - 1);
    expect(q4).toMatchObject({ fits: true, dtype: 'q4' });
    expect(q4.fits && q4.notice).toMatch(/; loading q4 \(about [\d.]+ GB\) instead/);
    expect(decide('auto', total('q4'))).toMatchObject({ dtype: 'q4' });
  });

  it('refuses when nothing fits, naming every dtype and the largest Pythia model in each', () => {
    const budget = total('q4') - 1;
    const refusal = decide('auto', budget);
    if (refusal.fits) throw new Error('expected a refusal');
    const needs = memoryNeeds(config, 'f16', use).estimate;
    const within = (dtype: WeightDtype) => largestPythiaWithin(budget, dtype, use, false)!;
    expect([within('f16').name, within('q8').name, within('q4').name]).toEqual([
      'pythia-2.8b',
      'pythia-6.9b',
      'pythia-6.9b',
    ]);
    expect(refusal.message).toBe(
      `${label} needs about ${formatBytes(needs.total)} of GPU memory in f16 (weights ` +
        `${formatBytes(needs.weights)}, KV cache ${formatBytes(needs.kvCache)}, activations ` +
        `${formatBytes(needs.activations)}), ${formatBytes(total('q8'))} in q8 and ` +
        `${formatBytes(total('q4'))} in q4, more than the --memory-budget of ${formatBytes(budget)}; ` +
        `pythia-2.8b fits in f16 (about ${formatBytes(within('f16').total)}), pythia-6.9b in q8 ` +
        `(about ${formatBytes(within('q8').total)}), or set --memory-budget <size> to override ` +
        '(none turns the check off)',
    );
  });

  it('never replaces an explicit --dtype: it refuses, naming the --dtype that fits', () => {
    const refusal = decide('f16', total('f16') - 1);
    if (refusal.fits) throw new Error('expected a refusal');
    expect(refusal.message).toContain(
      `; --dtype q8 fits it (about ${formatBytes(total('q8'))}); pythia-6.9b fits in f16`,
    );
    expect(refusal.message).toMatch(/pythia-12b in q8 \(about [\d.]+ GB\), or set --memory-budget/);
    expect(decide('q8', total('q8'))).toMatchObject({ fits: true, dtype: 'q8' });
    expect(decide('q4', total('q4') - 1)).toMatchObject({ fits: false });
  });

  it('leaves q8 and q4 out for a model whose rows are not whole quantization blocks', () => {
    const odd = { ...pythiaConfig('pythia-70m'), hiddenSize: 500, intermediateSize: 2000 };
    const f16 = memoryNeeds(odd, 'f16', use).estimate.total;
    const refusal = decideDtype('odd', odd, 'auto', 'f16', () => use, limits(f16 - 1));
    expect(refusal.fits).toBe(false);
    expect(!refusal.fits && refusal.message).toMatch(
      /^odd needs about [\d.]+ MB of GPU memory in f16 \([^)]*\), more than/,
    );
  });

  it('does not quantize on a GPU, whose memory is not known, nor past a too-narrow binding', () => {
    const onGpu = { budget: undefined, adapter: gpu, ...machine };
    expect(decideDtype(label, config, 'auto', 'f16', () => use, onGpu)).toMatchObject({
      fits: true,
      dtype: 'f16',
    });
    const narrow = { ...onGpu, adapter: { ...gpu, maxStorageBufferBindingSize: 65_536 } };
    const refusal = decideDtype(label, config, 'auto', 'f16', () => use, narrow);
    expect(!refusal.fits && refusal.message).toMatch(
      /has rows of 81\.9 kB, more than the 65\.5 kB/,
    );
  });
});

describe("the README's numbers", () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

  it("are estimateMemory's: the weights of each Pythia size by dtype, and a full context's cache", () => {
    const rows = readme
      .split('\n')
      .filter((l) => /^\| pythia-/.test(l))
      .map((l) =>
        l
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim()),
      );
    const want = PYTHIA_MODELS.filter((m) => !m.deduped).map((m) => {
      const config = pythiaConfig(m.name);
      const weights = (dtype: WeightDtype) =>
        formatBytes(estimateMemory(config, { dtype }).weights);
      const cache = estimateMemory(config, { contextLength: 2048 }).kvCache;
      return [
        m.name,
        weights('f32'),
        weights('f16'),
        weights('q8'),
        weights('q4'),
        formatBytes(cache),
      ];
    });
    expect(rows).toEqual(want);
  });

  it('are what the CLI says of pythia-12b with 24.16 GB free, under auto and --dtype f16', () => {
    const limits = {
      budget: undefined,
      adapter: lavapipe,
      totalmem: 25.28 * GB,
      freemem: 24.16 * GB,
    };
    const say = (asked: 'auto' | WeightDtype) => {
      const decision = decideDtype(
        'EleutherAI/pythia-12b@main',
        pythiaConfig('pythia-12b'),
        asked,
        'f16',
        () => ({ tokens: 1, contextLength: 2048 }),
        limits,
      );
      return `pythia: ${decision.fits ? decision.notice : decision.message}`;
    };
    const block = readme.slice(readme.indexOf('pythia generate --model pythia-12b "Hello"'));
    const comments = (from: string) =>
      block
        .slice(block.indexOf(from))
        .split('\n')
        .slice(1)
        .filter((_, i, all) => all.slice(0, i + 1).every((l) => l.startsWith('# ')))
        .map((l) => l.slice(2))
        .join(' ');
    expect(comments('pythia generate --model pythia-12b "Hello"')).toBe(say('auto'));
    expect(comments('pythia generate --model pythia-12b --dtype f16 "Hello"')).toBe(say('f16'));
  });
});

describe('pythia refuses a model too big for the machine, before downloading its weights', () => {
  const MAIN = 'e'.repeat(40);
  const f16 = fixtureCommit('tiny-neox-f16');
  let hub: FakeHub;
  let cache: string;
  let env: Record<string, string | undefined>;
  // pythia-12b's config.json (as the Hub serves it), doubled in depth until this machine cannot
  // hold it in any case; its weights file is the tiny fixture's, which is never downloaded.
  let layers = 36;
  const free = () => process.availableMemory?.() || freemem();
  const bigConfig = () => ({
    architectures: ['GPTNeoXForCausalLM'],
    hidden_size: 5120,
    intermediate_size: 20480,
    num_attention_heads: 40,
    num_hidden_layers: layers,
    vocab_size: 50688,
    max_position_embeddings: 2048,
    rotary_pct: 0.25,
    rotary_emb_base: 10000,
    use_parallel_residual: true,
    hidden_act: 'gelu',
    layer_norm_eps: 1e-5,
    tie_word_embeddings: false,
  });
  // Even in q4, which `--dtype auto` falls back to (the config names no torch_dtype: f32).
  const bigNeeds = () =>
    memoryNeeds({ ...pythiaConfig('pythia-12b'), numLayers: layers }, 'q4', {
      tokens: 1,
      contextLength: 2048,
    }).estimate.total;

  beforeAll(async () => {
    while (bigNeeds() <= free() * 1.1) layers *= 2;
    hub = await new FakeHub({
      'EleutherAI/pythia-tiny': { branches: { main: MAIN }, commits: { [MAIN]: f16 } },
      'EleutherAI/pythia-huge-deduped': {
        branches: { main: MAIN },
        commits: { [MAIN]: { ...f16, 'config.json': JSON.stringify(bigConfig()) } },
      },
    }).start();
    cache = await mkdtemp(join(tmpdir(), 'pythia-memory-'));
    env = hubEnv(hub.hubOrigin, cache);
  });
  afterAll(async () => {
    await hub?.stop();
    if (cache) await rm(cache, { recursive: true, force: true });
  });

  const weightRequests = () => hub.requests.filter((r) => r.url.includes('model.safetensors'));

  it('holds any model to --memory-budget, and says so in one line with the numbers', async () => {
    const run = await pythia(
      ['generate', '--model', 'EleutherAI/pythia-tiny', '--ids', '1', '--memory-budget', '1KB'],
      { env },
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      /^pythia: EleutherAI\/pythia-tiny@main needs about [\d.]+ MB of GPU memory in f16 \(weights 6\.\d MB, KV cache [\d.]+ MB, activations [\d.]+ kB\), [\d.]+ MB in q8 and [\d.]+ MB in q4, more than the --memory-budget of 1\.0 kB; no Pythia model fits, even in q4, or set --memory-budget <size> to override \(none turns the check off\)\n$/,
    );
    expect(hub.requests.some((r) => r.url.includes('config.json'))).toBe(true);
    expect(weightRequests()).toEqual([]);
  });

  it('refuses on this machine by default what it cannot hold, naming a smaller Pythia model', async () => {
    // Asked in a child process: the adapter start prints Dawn's notices on that stderr.
    const adapter = JSON.parse(
      execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { describeAdapter } from ${JSON.stringify(new URL('../dist/gpu.js', import.meta.url).href)};
           console.log(JSON.stringify(await describeAdapter()));`,
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      ),
    );
    const run = await pythia(
      ['generate', '--model', 'EleutherAI/pythia-huge-deduped', '--ids', '1'],
      { env },
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    if (adapter.software) {
      // Its buffers live in system memory: the free memory is the limit.
      expect(run.stderr).toMatch(
        /^pythia: EleutherAI\/pythia-huge-deduped@main needs about [\d.]+ GB of GPU memory in f32 .*, [\d.]+ GB in q8 and [\d.]+ GB in q4, more than the [\d.]+ GB of free system memory \(of [\d.]+ GB\) that .*, a software adapter, can use; pythia-[\d.]+[mb]-deduped fits in f32 \(about [\d.]+ [MG]B\)(, pythia-[\d.]+[mb]-deduped in q[84] \(about [\d.]+ [MG]B\))*, or set --memory-budget <size> to override/,
      );
      for (const [, named, dtype] of run.stderr.matchAll(
        /(pythia-[\d.]+[mb])-deduped (?:fits )?in (f32|q8|q4)/g,
      )) {
        expect(
          memoryNeeds(pythiaConfig(named!), dtype as WeightDtype, {
            tokens: 1,
            contextLength: 2048,
          }).estimate.total,
        ).toBeLessThan(free() * 1.1);
      }
      expect(weightRequests()).toEqual([]);
    } else {
      // A GPU's memory is not known: no default limit, and the tiny weights then do not match.
      expect(run.stderr).not.toMatch(/GPU memory/);
    }
  });

  it('is overridden by --memory-budget none: the weights are fetched (and here do not match)', async () => {
    const run = await pythia(
      [
        'generate',
        '--model',
        'EleutherAI/pythia-huge-deduped',
        '--ids',
        '1',
        '--memory-budget',
        'none',
      ],
      { env },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).not.toMatch(/GPU memory/);
    expect(weightRequests()).not.toEqual([]);
  });

  it('takes --memory-budget as a size, or it is a usage error', async () => {
    const run = await pythia(['generate', '--memory-budget', 'lots', 'Hi'], { env });
    expect(run).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'pythia: --memory-budget takes a size such as 8GB, 512MB, 1.5GiB or a number of bytes, not "lots"\n',
    });
  });

  // `generate --ids 1` on the tiny model, two greedy tokens, as JSON.
  const generateArgs = (...more: string[]) => [
    'generate',
    '--model',
    'EleutherAI/pythia-tiny',
    '--ids',
    '1',
    '--max-new-tokens',
    '2',
    '--temperature',
    '0',
    '--json',
    ...more,
  ];
  const generateIn = (...more: string[]) => pythia(generateArgs(...more), { env });

  it('loads the model as before when it fits, and with the check off', async () => {
    for (const budget of ['8GB', 'none']) {
      const run = await generateIn('--memory-budget', budget);
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout).ids).toHaveLength(2);
    }
  });

  // The tiny fixture as `generate --ids 1` runs it: one token, a cache of the whole context.
  const tinyNeeds = (dtype: WeightDtype) =>
    memoryNeeds(parseNeoXConfig(JSON.parse(String(f16['config.json']))), dtype, {
      tokens: 1,
      contextLength: 2048,
    }).estimate;
  const ours = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('pythia:'));

  it("--dtype auto keeps the checkpoint's f16 when it fits, without a word", async () => {
    const run = await generateIn('--memory-budget', String(tinyNeeds('f16').total));
    expect(run.code, run.stderr).toBe(0);
    expect(ours(run.stderr)).toEqual([]);
    expect(JSON.parse(run.stdout)).toMatchObject({ dtype: 'f16' });
  });

  it('--dtype auto loads q8, or q4, when only that fits, and says so in one line', async () => {
    const [f16Total, q8Total, q4Total] = (['f16', 'q8', 'q4'] as const).map(
      (d) => tinyNeeds(d).total,
    ) as [number, number, number];
    expect(f16Total).toBeGreaterThan(q8Total);
    expect(q8Total).toBeGreaterThan(q4Total);
    const q8 = await generateIn('--memory-budget', String(f16Total - 1));
    expect(q8.code, q8.stderr).toBe(0);
    expect(ours(q8.stderr)).toEqual([
      `pythia: EleutherAI/pythia-tiny@main: f16 needs about ${formatBytes(f16Total)}, more than the ` +
        `--memory-budget of ${formatBytes(f16Total - 1)}; loading q8 (about ${formatBytes(q8Total)}) ` +
        'instead — pass --dtype to choose',
    ]);
    expect(JSON.parse(q8.stdout)).toMatchObject({ dtype: 'q8' });
    expect(JSON.parse(q8.stdout).ids).toHaveLength(2);

    const q4 = await generateIn('--memory-budget', String(q8Total - 1));
    expect(q4.code, q4.stderr).toBe(0);
    expect(ours(q4.stderr)).toEqual([
      `pythia: EleutherAI/pythia-tiny@main: f16 needs about ${formatBytes(f16Total)}, more than the ` +
        `--memory-budget of ${formatBytes(q8Total - 1)}; loading q4 (about ${formatBytes(q4Total)}) ` +
        'instead — pass --dtype to choose',
    ]);
    expect(JSON.parse(q4.stdout)).toMatchObject({ dtype: 'q4' });
  });

  it("refuses when not even q4 fits, with every dtype's estimate", async () => {
    const budget = tinyNeeds('q4').total - 1;
    const run = await generateIn('--memory-budget', String(budget));
    const f16Needs = tinyNeeds('f16');
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      `pythia: EleutherAI/pythia-tiny@main needs about ${formatBytes(f16Needs.total)} of GPU memory in ` +
        `f16 (weights ${formatBytes(f16Needs.weights)}, KV cache ${formatBytes(f16Needs.kvCache)}, ` +
        `activations ${formatBytes(f16Needs.activations)}), ${formatBytes(tinyNeeds('q8').total)} in q8 ` +
        `and ${formatBytes(tinyNeeds('q4').total)} in q4, more than the --memory-budget of ` +
        `${formatBytes(budget)}; no Pythia model fits, even in q4, or set --memory-budget <size> to ` +
        'override (none turns the check off)\n',
    );
  });

  it('never downgrades an explicit --dtype: it refuses, and names the --dtype that fits', async () => {
    const budget = tinyNeeds('f16').total - 1;
    const run = await generateIn('--dtype', 'f16', '--memory-budget', String(budget));
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      new RegExp(
        `^pythia: EleutherAI/pythia-tiny@main needs about ${formatBytes(tinyNeeds('f16').total)} of GPU memory in f16 .*; ` +
          `--dtype q8 fits it \\(about ${formatBytes(tinyNeeds('q8').total)}\\); no Pythia model fits, or set --memory-budget`,
      ),
    );
  });

  it('--cache-quantized keeps the q4 weights by commit, says where once, and the next run reads them', async () => {
    const kept = await mkdtemp(join(tmpdir(), 'pythia-derived-'));
    try {
      const run = () =>
        pythia(generateArgs('--dtype', 'q4', '--cache-quantized'), {
          env: { ...env, PYTHIAJS_CACHE: kept },
        });
      const file = join(
        kept,
        'quantized',
        'v1',
        'EleutherAI',
        'pythia-tiny',
        MAIN,
        'q4.safetensors',
      );
      const first = await run();
      expect(first.code, first.stderr).toBe(0);
      expect(ours(first.stderr)).toEqual([
        `pythia: kept the quantized weights in ${file}; the next load of this revision reads them`,
      ]);
      expect(existsSync(file)).toBe(true);
      const second = await run();
      expect(second.code, second.stderr).toBe(0);
      expect(ours(second.stderr)).toEqual([]);
      expect(JSON.parse(second.stdout).ids).toEqual(JSON.parse(first.stdout).ids);
      // f16 weights are not quantized, so there is nothing to keep: said, and nothing written.
      const f16Run = await pythia(generateArgs('--dtype', 'f16', '--cache-quantized'), {
        env: { ...env, PYTHIAJS_CACHE: kept },
      });
      expect(f16Run.code, f16Run.stderr).toBe(0);
      expect(ours(f16Run.stderr)).toEqual([
        'pythia: --cache-quantized keeps q8 and q4 weights; f16 weights are read as stored',
      ]);
    } finally {
      await rm(kept, { recursive: true, force: true });
    }
  });

  it('runs a model in q4 when asked, and reports q4 where it reports the dtype', async () => {
    const generated = await generateIn('--dtype', 'q4');
    expect(generated.code, generated.stderr).toBe(0);
    expect(JSON.parse(generated.stdout)).toMatchObject({ dtype: 'q4' });
    const score = async (dtype: string) => {
      const run = await pythia(
        [
          'score',
          '--model',
          'EleutherAI/pythia-tiny',
          'Hello, I am a tiny model.',
          '--json',
          '--dtype',
          dtype,
        ],
        { env },
      );
      expect(run.code, run.stderr).toBe(0);
      return JSON.parse(run.stdout);
    };
    const [q4, asStored] = [await score('q4'), await score('f16')];
    expect(q4.dtype).toBe('q4');
    expect(asStored.dtype).toBe('f16');
    expect(q4.scored).toBe(asStored.scored);
    expect(Number.isFinite(q4.loss)).toBe(true);
    // Quantization moves the numbers a little, not a lot.
    expect(Math.abs(q4.loss - asStored.loss)).toBeLessThan(0.1 * Math.abs(asStored.loss) + 0.05);
    const bench = await pythia(
      [
        'bench',
        '--model',
        'EleutherAI/pythia-tiny',
        '--prefill',
        '4',
        '--decode',
        '2',
        '--json',
        '--dtype',
        'q4',
      ],
      { env },
    );
    expect(bench.code, bench.stderr).toBe(0);
    const config = parseNeoXConfig(JSON.parse(String(f16['config.json'])));
    expect(JSON.parse(bench.stdout)).toMatchObject({
      dtype: 'q4',
      weight_bytes: estimateMemory(config, { dtype: 'q4', embedDtype: 'f16' }).weights,
    });
  });
});
