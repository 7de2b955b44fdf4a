import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { freemem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeHub } from '@pythiajs/checkpoint-hub/testing';
import { estimateMemory, type MemoryEstimate, pythiaConfig } from '@pythiajs/neox-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseByteSize, parseMemoryBudget } from '../src/byte-size.js';
import { isSoftwareAdapter } from '../src/gpu.js';
import {
  type AdapterMemory,
  checkMemory,
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
        { estimate: estimate(26.8 * GB), bindingBytes: 80_000 },
        verdict,
        { name: 'pythia-6.9b', total: 15.96 * GB },
      ),
    ).toBe(
      'EleutherAI/pythia-12b@main needs about 26.80 GB of GPU memory (weights 21.44 GB, KV cache 4.02 GB, ' +
        'activations 1.34 GB), more than the 20.00 GB of free system memory (of 24.00 GB) that llvmpipe, ' +
        'a software adapter, can use; pythia-6.9b fits (about 15.96 GB), or set --memory-budget <size> ' +
        'to override (none turns the check off)',
    );
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
  const bigNeeds = () =>
    memoryNeeds({ ...pythiaConfig('pythia-12b'), numLayers: layers }, 'f16', {
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
      /^pythia: EleutherAI\/pythia-tiny@main needs about [\d.]+ MB of GPU memory \(weights 6\.\d MB, KV cache [\d.]+ MB, activations [\d.]+ kB\), more than the --memory-budget of 1\.0 kB; no Pythia model fits, or set --memory-budget <size> to override \(none turns the check off\)\n$/,
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
        /^pythia: EleutherAI\/pythia-huge-deduped@main needs about [\d.]+ GB of GPU memory .*, more than the [\d.]+ GB of free system memory \(of [\d.]+ GB\) that .*, a software adapter, can use; pythia-[\d.]+[mb]-deduped fits \(about [\d.]+ [MG]B\), or set --memory-budget <size> to override/,
      );
      const named = /pythia-([\d.]+[mb])-deduped fits/.exec(run.stderr)![1]!;
      expect(
        memoryNeeds(pythiaConfig(named), 'f16', { tokens: 1, contextLength: 2048 }).estimate.total,
      ).toBeLessThan(free() * 1.1);
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

  it('loads the model as before when it fits, and with the check off', async () => {
    for (const budget of ['8GB', 'none']) {
      const run = await pythia(
        [
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
          '--memory-budget',
          budget,
        ],
        { env },
      );
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout).ids).toHaveLength(2);
    }
  });
});
