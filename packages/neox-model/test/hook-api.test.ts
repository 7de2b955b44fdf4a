// The hook API as a researcher uses it: selections, values from caches, what a run returns,
// and the edits it must refuse rather than silently ignore.
import { createDevice, type Device } from '@pythiajs/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActivationCache,
  activationPatching,
  ForwardError,
  generate,
  generateBatch,
  type Hook,
  type HookedActivation,
  meanActivation,
  NeoXModel,
  type PatchedActivation,
  runWithCache,
  runWithDeviceCache,
  runWithHooks,
  type Selection,
  stackActivations,
  tokenLogprobs,
} from '../src/index.js';
import { fixtureFolder, maxAbsDiff } from './golden.js';

let device: Device;
let model: NeoXModel;
const ids = [5, 99, 1024, 7, 300, 12];
const other = [17, 42, 8, 1999, 640, 3];
const HIDDEN = 64;
const VOCAB = 2048;

beforeAll(async () => {
  device = await createDevice();
  model = await NeoXModel.load(
    { folder: fixtureFolder('tiny-neox-bin') },
    { device, dtype: 'f32' },
  );
});
afterAll(() => {
  model?.dispose();
  device?.destroy();
});

/** `n` greedy tokens of `generate` after `ids`, with `hooks` on at every step (KV cache). */
async function generated(n: number, hooks?: Record<string, Hook>): Promise<number[]> {
  const out: number[] = [];
  const options = { ids, maxNewTokens: n, temperature: 0, eosTokenId: null };
  for await (const t of generate(model, hooks ? { ...options, hooks } : options)) out.push(t.id);
  return out;
}

/** The same tokens by rerunning the whole sequence with `hooks` at each step, with no cache. */
async function rerun(n: number, hooks: Record<string, Hook>): Promise<number[]> {
  const sequence = [...ids];
  for (let i = 0; i < n; i++) {
    const logits = await runWithHooks(model, sequence, hooks, { logits: 'last' });
    let best = 0;
    for (let v = 1; v < VOCAB; v++) if (logits[v]! > logits[best]!) best = v;
    sequence.push(best);
  }
  return sequence.slice(ids.length);
}

describe('selections', () => {
  it('pos selects absolute positions: patching position 2 changes only positions ≥ 2', async () => {
    const name = 'blocks.1.hook_resid_pre';
    const { cache } = await runWithCache(model, other, { names: [name] });
    const clean = await model.forward(ids);
    const patched = await runWithHooks(model, ids, {
      [name]: (a) => a.set(cache.get(name)!, { pos: 2 }),
    });
    for (let t = 0; t < ids.length; t++) {
      const diff = maxAbsDiff(
        patched.subarray(t * VOCAB, (t + 1) * VOCAB),
        clean.subarray(t * VOCAB, (t + 1) * VOCAB),
      );
      if (t < 2) expect(diff).toBe(0);
      else expect(diff).toBeGreaterThan(1e-3);
    }
    // The same edit with the values of the selection (one row) and with the whole activation.
    const row = cache.get(name)!.data.slice(2 * HIDDEN, 3 * HIDDEN);
    const fromRow = await runWithHooks(model, ids, { [name]: (a) => a.set(row, { pos: 2 }) });
    expect(maxAbsDiff(fromRow, patched)).toBe(0);
  });

  it('batch selects one sequence of a packed run, leaving the others as they run alone', async () => {
    const [first, second] = await runWithHooks(model, [ids, other], {
      'blocks.0.attn.hook_z': (a) => a.zero({ batch: 1, head: 2 }),
    });
    expect(maxAbsDiff(first!, await model.forward(ids))).toBeLessThanOrEqual(1e-5);
    const alone = await runWithHooks(model, other, {
      'blocks.0.attn.hook_z': (a) => a.zero({ head: 2 }),
    });
    expect(maxAbsDiff(second!, alone)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(alone, await model.forward(other))).toBeGreaterThan(1e-3);
  });

  it('reads a selection back on request, after the edits made so far', async () => {
    let read: Promise<{ data: Float32Array; shape: number[] }> | undefined;
    await runWithHooks(model, ids, {
      'blocks.0.attn.hook_v': (a) => {
        a.scale(3, { pos: 1, head: 0 });
        read = a.read({ pos: [1, 4], head: 0 });
      },
    });
    const { cache } = await runWithCache(model, ids, { names: ['blocks.0.attn.hook_v'] });
    const v = cache.get('blocks.0.attn.hook_v')!.data; // [6, 4, 16]
    const got = await read!;
    expect(got.shape).toEqual([2, 1, 16]);
    expect(
      maxAbsDiff(
        got.data.subarray(0, 16),
        v.slice(64, 80).map((x) => 3 * x),
      ),
    ).toBeLessThan(1e-5);
    expect(maxAbsDiff(got.data.subarray(16), v.slice(4 * 64, 4 * 64 + 16))).toBe(0);
  });

  it('src selects keys of a pattern: the same edit as the whole pattern with those keys zeroed', async () => {
    const name = 'blocks.1.attn.hook_pattern';
    const { cache } = await runWithCache(model, ids, { names: [name] });
    const pattern = cache.get(name)!.data.slice(); // [4 heads, 6, 6]
    for (let dest = 0; dest < 6; dest++) pattern[(2 * 6 + dest) * 6 + 0] = 0; // head 2, key 0
    const selected = await runWithHooks(model, ids, {
      [name]: (a) => a.scale(0, { head: 2, src: 0 }),
    });
    const explicit = await runWithHooks(model, ids, { [name]: (a) => a.set(pattern) });
    expect(maxAbsDiff(selected, explicit)).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(selected, await model.forward(ids))).toBeGreaterThan(1e-3);
  });

  it('refuses selections and values that do not fit, saying what would', async () => {
    const run = (hook: Parameters<typeof runWithHooks>[2][string]) =>
      runWithHooks(model, ids, { 'blocks.0.attn.hook_z': hook });
    await expect(run((a) => a.zero({ head: 4 }))).rejects.toThrow(
      /head 4 is out of range; there are 4/,
    );
    await expect(run((a) => a.zero({ src: 1 }))).rejects.toThrow(
      /axes \[pos, head, d_head\]; select by/,
    );
    await expect(run((a) => a.zero({ batch: 1 }))).rejects.toThrow(/batch 1 is out of range/);
    await expect(run((a) => a.set([1, 2, 3], { head: 1 }))).rejects.toThrow(
      /give 96 values .*16 \(one row for every selected position\), or 384 \(the whole activation\); got 3/,
    );
    await expect(run((a) => a.scale(Number.NaN))).rejects.toThrow(ForwardError);
  });

  it('refuses pattern and score edits that would attend to later positions', async () => {
    await expect(
      runWithHooks(model, ids, {
        'blocks.0.attn.hook_pattern': (a) => a.set(new Float32Array(6).fill(1 / 6), { head: 0 }),
      }),
    ).rejects.toThrow(/head 0, dest 0, src 1 is 0\.16.*cannot attend to a later position; give 0/);
    await expect(
      runWithHooks(model, ids, { 'blocks.1.attn.hook_attn_scores': (a) => a.zero({ head: 1 }) }),
    ).rejects.toThrow(/would unmask later positions/);
    await expect(
      runWithHooks(model, ids, {
        'blocks.1.attn.hook_attn_scores': (a) => a.set(new Float32Array(6), { head: 1 }),
      }),
    ).rejects.toThrow(/give -Infinity where src > dest/);
  });
});

describe('what a run returns', () => {
  it("returns: 'loss-per-token' and 'loss' are the negated logprobs and their mean", async () => {
    const logprobs = await tokenLogprobs(model, ids);
    const perToken = await runWithHooks(model, ids, {}, { returns: 'loss-per-token' });
    expect(
      maxAbsDiff(
        perToken,
        logprobs.map((x) => -x),
      ),
    ).toBeLessThanOrEqual(1e-5);
    const loss = await runWithHooks(model, ids, {}, { returns: 'loss' });
    expect(loss).toBeCloseTo(-logprobs.reduce((a, b) => a + b, 0) / logprobs.length, 5);
    // A hook changes the loss.
    const ablated = await runWithHooks(
      model,
      ids,
      { 'blocks.1.hook_mlp_out': (a) => a.zero() },
      { returns: 'loss' },
    );
    expect(Math.abs(ablated - loss)).toBeGreaterThan(1e-3);
    const [a, b] = await runWithHooks(model, [ids, other], {}, { returns: 'loss' });
    expect(a).toBeCloseTo(loss, 5);
    expect(b).toBeCloseTo(await runWithHooks(model, other, {}, { returns: 'loss' }), 5);
  });

  it("logits: 'last' gives the last row; returns: 'none' runs the hooks only", async () => {
    const all = await model.forward(ids);
    const last = await runWithHooks(model, ids, {}, { logits: 'last' });
    expect(last).toHaveLength(VOCAB);
    expect(maxAbsDiff(last, all.subarray(5 * VOCAB))).toBeLessThanOrEqual(1e-5);
    let seen: Promise<{ data: Float32Array }> | undefined;
    const none = await runWithHooks(
      model,
      ids,
      {
        'blocks.0.hook_resid_post': (a) => {
          seen = a.read();
        },
      },
      { returns: 'none' },
    );
    expect(none).toBeUndefined();
    expect((await seen!).data).toHaveLength(ids.length * HIDDEN);
  });

  it('startAtLayer runs from a residual stream, as the rest of a full run', async () => {
    const name = 'blocks.1.hook_resid_pre';
    const { cache } = await runWithCache(model, ids, { names: [name] });
    const resid = cache.get(name)!.data;
    const full = await model.forward(ids);
    const fromCpu = await runWithHooks(
      model,
      ids,
      {},
      { startAtLayer: { layer: 1, residual: resid } },
    );
    expect(maxAbsDiff(fromCpu, full)).toBeLessThanOrEqual(1e-5);
    // From a GPU tensor (which stays the caller's), with hooks after the start, and the loss.
    const onGpu = device.tensor(resid, [ids.length, HIDDEN]);
    const hooks = { 'blocks.1.hook_mlp_out': (a: HookedActivation) => a.zero() };
    const hooked = await runWithHooks(model, ids, hooks, {
      startAtLayer: { layer: 1, residual: onGpu },
      returns: 'loss',
    });
    expect(hooked).toBeCloseTo(await runWithHooks(model, ids, hooks, { returns: 'loss' }), 5);
    expect((await onGpu.read()).length).toBe(resid.length);
    // Hooks before the start do not run.
    let embedSeen = false;
    await runWithHooks(
      model,
      ids,
      {
        hook_embed: () => {
          embedSeen = true;
        },
      },
      { startAtLayer: { layer: 1, residual: resid } },
    );
    expect(embedSeen).toBe(false);
    await expect(
      runWithHooks(model, ids, {}, { startAtLayer: { layer: 1, residual: resid.subarray(1) } }),
    ).rejects.toThrow(/the batch needs \[6 tokens × 64\] = 384/);
    await expect(
      runWithHooks(model, ids, {}, { startAtLayer: { layer: 2, residual: resid } }),
    ).rejects.toThrow(/from 0 to 1, got 2/);
    onGpu.dispose();
  });

  it('stopAtLayer returns the residual stream entering that block', async () => {
    const { cache } = await runWithCache(model, ids, {
      names: ['blocks.1.hook_resid_pre', 'blocks.1.hook_resid_post'],
    });
    const at1 = await runWithHooks(model, ids, {}, { stopAtLayer: 1 });
    expect(maxAbsDiff(at1, cache.get('blocks.1.hook_resid_pre')!.data)).toBeLessThanOrEqual(1e-6);
    const end = await runWithHooks(model, ids, {}, { stopAtLayer: 2 });
    expect(maxAbsDiff(end, cache.get('blocks.1.hook_resid_post')!.data)).toBeLessThanOrEqual(1e-6);
    await expect(runWithHooks(model, ids, {}, { stopAtLayer: 3 })).rejects.toThrow(
      /stopAtLayer must be an integer from 0 to 2/,
    );
  });
});

describe('mean ablation and hooks during generation', () => {
  it('meanActivation averages per position over a batch, or over everything', async () => {
    const name = 'blocks.0.hook_mlp_out';
    const { caches } = await runWithCache(model, [ids, other, [1, 2, 3]], { names: [name] });
    const perPos = meanActivation(caches, name);
    expect(perPos.shape).toEqual([6, HIDDEN]);
    const a = caches[0]!.get(name)!.data;
    const b = caches[1]!.get(name)!.data;
    const c = caches[2]!.get(name)!.data;
    expect(perPos.data[0]).toBeCloseTo((a[0]! + b[0]! + c[0]!) / 3, 6);
    expect(perPos.data[5 * HIDDEN]).toBeCloseTo((a[5 * HIDDEN]! + b[5 * HIDDEN]!) / 2, 6);
    const all = meanActivation(caches, name, { over: 'all' });
    expect(all.shape).toEqual([HIDDEN]);
    let sum = 0;
    for (const x of [a, b, c])
      for (let t = 0; t < x.length / HIDDEN; t++) sum += x[t * HIDDEN + 7]!;
    expect(all.data[7]).toBeCloseTo(sum / 15, 6);
    // Mean-ablating with the batch mean over the same batch of one sequence changes nothing.
    const logits = await runWithHooks(model, ids, {
      [name]: (h) => h.set(meanActivation(caches[0]!, name)),
    });
    expect(maxAbsDiff(logits, await model.forward(ids))).toBeLessThanOrEqual(1e-5);
    expect(() => meanActivation(caches, 'blocks.0.attn.hook_pattern')).toThrow(/key axis/);
  });

  it('a steering vector in generate acts at every step as rerunning the whole sequence would', async () => {
    const steer = Float32Array.from({ length: HIDDEN }, (_, i) => Math.cos(i) * 0.8);
    const hooks = {
      'blocks.1.hook_resid_pre': (a: HookedActivation) => a.add(steer),
    };
    const steered = await generated(4, hooks);
    expect(steered).toEqual(await rerun(4, hooks));
    expect(await generated(4)).not.toEqual(steered);
  });
});

describe('hooks in generateBatch', () => {
  it('a hook on one request of the batch steers it as generate would, and leaves the others', async () => {
    const steer = Float32Array.from({ length: HIDDEN }, (_, i) => Math.cos(i) * 0.8);
    const hooks = { 'blocks.1.hook_resid_pre': (a: HookedActivation) => a.add(steer) };
    const request = { ids, maxNewTokens: 4, temperature: 0, eosTokenId: null };
    const [plain, steered] = await generateBatch(model, [request, request], {
      hooks: { 'blocks.1.hook_resid_pre': (a) => a.add(steer, { batch: 1 }) },
    });
    expect(steered!.ids).toEqual(await generated(4, hooks));
    expect(plain!.ids).toEqual(await generated(4));
    expect(steered!.ids).not.toEqual(plain!.ids);
  });
});

describe('stacking caches', () => {
  it('stackActivations puts the batch axis first, as TransformerLens caches a batch', async () => {
    const name = 'blocks.1.attn.hook_pattern';
    const { caches } = await runWithCache(model, [ids, other], { names: [name] });
    const stacked = stackActivations(caches, name);
    expect(stacked.shape).toEqual([2, 4, 6, 6]);
    expect(stacked.data.subarray(4 * 36)).toEqual(caches[1]!.get(name)!.data);
    const uneven = await runWithCache(model, [ids, [1, 2]], { names: [name] });
    expect(() => stackActivations(uneven.caches, name)).toThrow(/runs of different lengths/);
  });
});

describe('low-level hook runners', () => {
  it('a replacement of another shape is refused, naming the hook point', async () => {
    await expect(
      model.forward(ids, {
        hooks: {
          wants: (name) => name === 'blocks.0.hook_mlp_out',
          visit: (_name, t) => t.device.zeros([t.shape[0]!, 32]),
        },
      }),
    ).rejects.toThrow(
      /hook at blocks\.0\.hook_mlp_out returned Tensor<f32>\[6, 32\], but the activation is Tensor<f32>\[6, 64\]/,
    );
  });
});

describe('patching from a cache, by absolute position', () => {
  it('a cache entry patches the prompt in generate, each sequence of a batch, and refuses too short a cache', async () => {
    const name = 'blocks.1.hook_resid_pre';
    const { cache } = await runWithCache(model, other, { names: [name] });
    const hooks = { [name]: (a: HookedActivation) => a.set(cache.get(name)!, { pos: [1, 3] }) };
    // Generation: the decoding steps hold no position 1 or 3, the prompt's step does.
    expect(await generated(3, hooks)).toEqual(await rerun(3, hooks));
    // A batch: the same positions of each sequence take the cached rows.
    const [a, b] = await runWithHooks(model, [ids, ids.slice(0, 5)], hooks, { logits: 'last' });
    expect(maxAbsDiff(a!, await runWithHooks(model, ids, hooks, { logits: 'last' }))).toBeLessThan(
      1e-4,
    );
    expect(
      maxAbsDiff(b!, await runWithHooks(model, ids.slice(0, 5), hooks, { logits: 'last' })),
    ).toBeLessThan(1e-4);
    // A cache shorter than the positions it must give.
    const short = await runWithCache(model, [1, 2], { names: [name] });
    await expect(
      runWithHooks(model, ids, { [name]: (h) => h.set(short.cache.get(name)!, { pos: 3 }) }),
    ).rejects.toThrow(/does not hold the selected positions .*cache a run of the same sequence/);
  });
});

describe('activation patching grids', () => {
  // Each cell of a packed grid equals the same patch made alone, one run per cell.
  const clean = ids;
  const corrupt = other;
  const metric = (logits: Float32Array) => logits[100]! - logits[200]!;

  async function alone(name: string, select: Selection, cache: ActivationCache) {
    const logits = await runWithHooks(
      model,
      corrupt,
      { [name]: (a) => a.set(cache.get(name)!, select) },
      { logits: 'last' },
    );
    return metric(logits);
  }

  it('z by head, z by head and position, attn_out and mlp_out by position, pattern by head', async () => {
    const { cache } = await runWithCache(model, clean, {
      names: (n) => /attn\.hook_(z|pattern)$|hook_(attn|mlp)_out$/.test(n),
    });
    const T = clean.length;
    const grid = (activation: PatchedActivation, by?: 'position' | 'head') =>
      activationPatching(model, {
        corrupt,
        clean: cache,
        activation,
        metric,
        ...(by ? { by } : {}),
      });
    const heads = await grid('z', 'head');
    expect([heads.length, heads[0]!.length]).toEqual([2, 4]);
    const byPos = await activationPatching(model, {
      corrupt,
      clean: cache,
      activation: 'z',
      by: 'head-position',
      metric,
      batchSize: 7, // several passes per layer
    });
    expect([byPos.length, byPos[0]!.length, byPos[0]![0]!.length]).toEqual([2, T, 4]);
    const attnOut = await grid('attn_out');
    const mlpOut = await grid('mlp_out');
    const pattern = await grid('pattern', 'head');
    for (let l = 0; l < 2; l++) {
      for (let h = 0; h < 4; h++) {
        const z = `blocks.${l}.attn.hook_z`;
        expect(heads[l]![h]).toBeCloseTo(await alone(z, { head: h }, cache), 4);
        expect(pattern[l]![h]).toBeCloseTo(
          await alone(`blocks.${l}.attn.hook_pattern`, { head: h }, cache),
          4,
        );
        for (const p of [0, 3, T - 1]) {
          expect(byPos[l]![p]![h]).toBeCloseTo(await alone(z, { head: h, pos: p }, cache), 4);
        }
      }
      for (let p = 0; p < T; p++) {
        expect(attnOut[l]![p]).toBeCloseTo(
          await alone(`blocks.${l}.hook_attn_out`, { pos: p }, cache),
          4,
        );
        expect(mlpOut[l]![p]).toBeCloseTo(
          await alone(`blocks.${l}.hook_mlp_out`, { pos: p }, cache),
          4,
        );
      }
    }
    // Patching every position of the last layer's mlp_out from the clean run gives the clean logits.
    expect(mlpOut[1]!.some((v) => Math.abs(v - mlpOut[0]![0]!) > 1e-3)).toBe(true);
  });

  it("logits: 'all' hands the metric every position's logits", async () => {
    const { cache } = await runWithCache(model, clean, {
      names: (n) => n.endsWith('hook_mlp_out'),
    });
    // The mean over positions of a logit difference: earlier positions count too.
    const overAll = (logits: Float32Array) => {
      let sum = 0;
      for (let t = 0; t < logits.length / VOCAB; t++)
        sum += logits[t * VOCAB + 100]! - logits[t * VOCAB + 200]!;
      return sum / (logits.length / VOCAB);
    };
    const grid = await activationPatching(model, {
      corrupt,
      clean: cache,
      activation: 'mlp_out',
      metric: overAll,
      logits: 'all',
    });
    for (const p of [0, 2, 5]) {
      const logits = await runWithHooks(model, corrupt, {
        'blocks.1.hook_mlp_out': (a) => a.set(cache.get('blocks.1.hook_mlp_out')!, { pos: p }),
      });
      expect(logits).toHaveLength(6 * VOCAB);
      expect(grid[1]![p]).toBeCloseTo(overAll(logits), 4);
    }
  });

  it('refuses what a grid cannot do', async () => {
    const { cache } = await runWithCache(model, clean, {
      names: (n) => n.endsWith('hook_resid_pre'),
    });
    await expect(
      activationPatching(model, {
        corrupt,
        clean: cache,
        activation: 'resid_pre',
        by: 'head',
        metric,
      }),
    ).rejects.toThrow(/resid_pre has no head axis; patch it by 'position'/);
    await expect(
      activationPatching(model, {
        corrupt: [1, 2, 3],
        clean: cache,
        activation: 'resid_pre',
        metric,
      }),
    ).rejects.toThrow(/clean run has 6 tokens but the corrupt run 3/);
    await expect(
      activationPatching(model, { corrupt, clean: cache, activation: 'attn_out', metric }),
    ).rejects.toThrow(/the clean cache has no blocks\.0\.hook_attn_out; run runWithCache with it/);
    await expect(
      activationPatching(model, { corrupt, clean, activation: 'resid_mid', metric }),
    ).rejects.toThrow(/resid_mid exists only in sequential blocks/);
  });
});

describe('caches on the GPU', () => {
  it('runWithDeviceCache keeps what runWithCache reads; its entries patch as CPU entries do', async () => {
    const names = [
      'blocks.1.hook_resid_pre',
      'blocks.0.attn.hook_z',
      'blocks.1.attn.hook_z',
      'blocks.1.attn.hook_pattern',
    ];
    const cpu = await runWithCache(model, other, { names });
    const { logits, cache } = await runWithDeviceCache(model, other, { names, logits: 'last' });
    expect(logits).toHaveLength(VOCAB);
    for (const name of names) {
      const read = await cache.read(name);
      expect(read.shape).toEqual(cpu.cache.get(name)!.shape);
      expect(maxAbsDiff(read.data, cpu.cache.get(name)!.data)).toBe(0);
    }
    // In generate, in a batch, and per head: the same as the CPU entry.
    const name = 'blocks.1.hook_resid_pre';
    const viaGpu = { [name]: (a: HookedActivation) => a.set(cache.get(name)!, { pos: [1, 3] }) };
    const viaCpu = {
      [name]: (a: HookedActivation) => a.set(cpu.cache.get(name)!, { pos: [1, 3] }),
    };
    expect(await generated(3, viaGpu)).toEqual(await generated(3, viaCpu));
    const batch = [ids, ids.slice(0, 4)];
    const [g0, g1] = await runWithHooks(model, batch, viaGpu, { logits: 'last' });
    const [c0, c1] = await runWithHooks(model, batch, viaCpu, { logits: 'last' });
    expect(maxAbsDiff(g0!, c0!)).toBe(0);
    expect(maxAbsDiff(g1!, c1!)).toBe(0);
    const metric = (l: Float32Array) => l[100]! - l[200]!;
    const fromGpu = await activationPatching(model, {
      corrupt: ids,
      clean: cache,
      activation: 'z',
      by: 'head',
      metric,
    });
    const fromCpu = await activationPatching(model, {
      corrupt: ids,
      clean: cpu.cache,
      activation: 'z',
      by: 'head',
      metric,
    });
    expect(fromGpu).toEqual(fromCpu);
    cache.dispose();
    expect(() => cache.get(name)).toThrow(/disposed; run runWithDeviceCache again/);
    // A batch, as plain JavaScript could pass it.
    const twoSequences = [ids, other] as unknown as number[];
    await expect(runWithDeviceCache(model, twoSequences, { names })).rejects.toThrow(
      /takes one sequence/,
    );
  });
});
