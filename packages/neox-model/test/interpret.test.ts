import { openCheckpoint, tensorData } from '@pythiajs/checkpoint-hub';
import { LocalFolderStore } from '@pythiajs/checkpoint-hub/node';
import { createDevice, type Device, f16BitsToF32Array } from '@pythiajs/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attentionPatterns,
  ForwardError,
  hookNames,
  logitLens,
  NeoXModel,
  runWithCache,
  runWithHooks,
  scoreTokens,
  tokenLogprobs,
} from '../src/index.js';
import { argmax, fixtureFolder, golden, logSoftmaxAt, maxAbsDiff } from './golden.js';

let device: Device;
let model: NeoXModel;
let sequential: NeoXModel;
const ids = [5, 99, 1024, 7, 300, 12];
const other = [17, 42, 8, 1999, 640, 3];

beforeAll(async () => {
  device = await createDevice();
  model = await NeoXModel.load(
    { folder: fixtureFolder('tiny-neox-bin') },
    { device, dtype: 'f32' },
  );
  sequential = await NeoXModel.load(
    { folder: fixtureFolder('tiny-neox-f32-sharded') },
    { device, dtype: 'f32' },
  );
});
afterAll(() => {
  model?.dispose();
  sequential?.dispose();
  device?.destroy();
});

describe('runWithCache', () => {
  it('reads back the asked-for activations with their TransformerLens shapes', async () => {
    const { heads, hidden, inter, headDim } = { heads: 4, hidden: 64, inter: 256, headDim: 16 };
    const names = [
      'hook_embed',
      'blocks.0.attn.hook_pattern',
      'blocks.1.mlp.hook_pre',
      'blocks.1.attn.hook_rot_q',
      'blocks.0.attn.hook_z',
      'ln_final.hook_normalized',
    ];
    const { cache } = await runWithCache(model, ids, { names });
    const T = ids.length;
    expect([...cache.keys()].sort()).toEqual([...names].sort());
    expect(cache.get('hook_embed')!.shape).toEqual([T, hidden]);
    expect(cache.get('blocks.0.attn.hook_pattern')!.shape).toEqual([heads, T, T]);
    expect(cache.get('blocks.1.mlp.hook_pre')!.shape).toEqual([T, inter]);
    expect(cache.get('blocks.1.attn.hook_rot_q')!.shape).toEqual([T, heads, headDim]);
    expect(cache.get('blocks.0.attn.hook_z')!.shape).toEqual([T, heads, headDim]);
  });

  it('gives causal attention patterns whose rows sum to one, in [heads, dest, src]', async () => {
    const patterns = await attentionPatterns(model, ids);
    expect(patterns).toHaveLength(2);
    const T = ids.length;
    for (const { data } of patterns) {
      for (let h = 0; h < 4; h++) {
        for (let dest = 0; dest < T; dest++) {
          const row = data.subarray((h * T + dest) * T, (h * T + dest + 1) * T);
          expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
          for (let src = dest + 1; src < T; src++) expect(row[src]).toBe(0);
        }
      }
      // The first token can only attend to itself.
      expect(data[0]).toBeCloseTo(1, 6);
    }
  });

  it('computes the same logits when hooks force the unfused paths', async () => {
    for (const m of [model, sequential]) {
      const plain = await m.forward(ids);
      const names = [0, 1].flatMap((l) => [
        `blocks.${l}.mlp.hook_pre`,
        `blocks.${l}.mlp.hook_post`,
        `blocks.${l}.hook_attn_out`,
        `blocks.${l}.hook_mlp_out`,
      ]);
      if (!m.config.parallelResidual) names.push('blocks.0.hook_resid_mid');
      const { logits } = await runWithCache(m, ids, { names });
      expect(maxAbsDiff(logits, plain)).toBeLessThanOrEqual(1e-5);
    }
  });

  it('rejects a hook point that does not exist, listing the real ones', async () => {
    await expect(runWithCache(model, ids, { names: ['blocks.0.hook_resid_mid'] })).rejects.toThrow(
      ForwardError,
    );
    await expect(runWithCache(model, ids, { names: ['blocks.9.hook_resid_post'] })).rejects.toThrow(
      /hook points are hook_embed/,
    );
  });
});

describe('query, key and value hooks', () => {
  it('exposes q, k and v before and after rotary, without changing the logits', async () => {
    const T = ids.length;
    const names = [
      'attn.hook_q',
      'attn.hook_k',
      'attn.hook_v',
      'attn.hook_rot_q',
      'attn.hook_rot_k',
    ].map((n) => `blocks.1.${n}`);
    const { logits, cache } = await runWithCache(model, ids, { names });
    for (const name of names) expect(cache.get(name)!.shape).toEqual([T, 4, 16]);
    expect(maxAbsDiff(logits, await model.forward(ids))).toBeLessThanOrEqual(1e-5);
    // The rotated q of the unfused path is the fused kernel's.
    const fused = await runWithCache(model, ids, { names: ['blocks.1.attn.hook_rot_q'] });
    expect(
      maxAbsDiff(
        cache.get('blocks.1.attn.hook_rot_q')!.data,
        fused.cache.get('blocks.1.attn.hook_rot_q')!.data,
      ),
    ).toBeLessThanOrEqual(1e-6);
    // Position 0 is not rotated at all: its rotated and raw q are equal.
    const raw = cache.get('blocks.1.attn.hook_q')!.data;
    const rot = cache.get('blocks.1.attn.hook_rot_q')!.data;
    expect(maxAbsDiff(raw.subarray(0, 64), rot.subarray(0, 64))).toBeLessThanOrEqual(1e-6);
  });

  it('zeroing the keys makes attention uniform over the positions each token may see', async () => {
    const T = ids.length;
    const { cache } = await runWithCache(model, ids, { names: ['blocks.0.attn.hook_pattern'] });
    const hooked = await runWithHooksAndCache(ids);
    expect(maxAbsDiff(hooked, cache.get('blocks.0.attn.hook_pattern')!.data)).toBeGreaterThan(1e-3);
    for (let h = 0; h < 4; h++) {
      for (let dest = 0; dest < T; dest++) {
        for (let src = 0; src < T; src++) {
          expect(hooked[(h * T + dest) * T + src]).toBeCloseTo(src <= dest ? 1 / (dest + 1) : 0, 6);
        }
      }
    }
  });
});

/** Layer 0's attention pattern with its keys zeroed (a hook replacing, a hook reading). */
async function runWithHooksAndCache(input: number[]): Promise<Float32Array> {
  let pattern: Promise<Float32Array> | undefined;
  await model.forward(input, {
    hooks: {
      wants: (name) => name === 'blocks.0.attn.hook_k' || name === 'blocks.0.attn.hook_pattern',
      visit: (name, t) => {
        if (name === 'blocks.0.attn.hook_k') return t.device.zeros(t.shape);
        pattern = t.read();
        return t;
      },
    },
  });
  return pattern!;
}

describe('runWithHooks', () => {
  it('zeroing the last residual leaves the unembedding of the final LayerNorm bias at every position', async () => {
    const checkpoint = await openCheckpoint(
      fixtureFolder('tiny-neox-bin'),
      'local',
      new LocalFolderStore(),
    );
    const read = async (name: string) => {
      const entry = checkpoint.tensors.get(name)!;
      const data = tensorData(entry.dtype, await checkpoint.read(name));
      return entry.dtype === 'F16'
        ? f16BitsToF32Array(data as Uint16Array)
        : (data as Float32Array);
    };
    const bias = await read('gpt_neox.final_layer_norm.bias');
    const unembed = await read('embed_out.weight');
    await checkpoint.close();
    const vocab = model.config.vocabSize;
    const expected = new Float32Array(vocab);
    for (let v = 0; v < vocab; v++) {
      let sum = 0;
      for (let h = 0; h < 64; h++) sum += unembed[v * 64 + h]! * bias[h]!;
      expected[v] = sum;
    }
    const logits = await runWithHooks(model, ids, { 'blocks.1.hook_resid_post': (a) => a.zero() });
    for (let t = 0; t < ids.length; t++) {
      expect(maxAbsDiff(logits.subarray(t * vocab, (t + 1) * vocab), expected)).toBeLessThanOrEqual(
        1e-4,
      );
    }
  });

  it("patching one run's residual stream into another reproduces the first run", async () => {
    const { logits: source, cache } = await runWithCache(model, other, {
      names: ['blocks.1.hook_resid_pre'],
    });
    const patched = await runWithHooks(model, ids, {
      'blocks.1.hook_resid_pre': (a) => a.set(cache.get('blocks.1.hook_resid_pre')!.data),
    });
    expect(maxAbsDiff(patched, source)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(await model.forward(ids), source)).toBeGreaterThan(1e-2);
  });

  it('adds a steering vector to every position, as setting the sum would', async () => {
    const steer = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 0.5);
    const { cache } = await runWithCache(model, ids, { names: ['blocks.0.hook_resid_post'] });
    const base = cache.get('blocks.0.hook_resid_post')!.data;
    const summed = base.map((v, i) => v + steer[i % 64]!);
    const added = await runWithHooks(model, ids, {
      'blocks.0.hook_resid_post': (a) => a.add(steer),
    });
    const set = await runWithHooks(model, ids, {
      'blocks.0.hook_resid_post': (a) => a.set(summed),
    });
    expect(maxAbsDiff(added, set)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(added, await model.forward(ids))).toBeGreaterThan(1e-3);
    await expect(
      runWithHooks(model, ids, { 'blocks.0.hook_resid_post': (a) => a.add([1, 2, 3]) }),
    ).rejects.toThrow(/give 384 values .*, 64 \(one row for every selected position\)/);
  });
});

describe('logit lens and per-token logprobs', () => {
  it("ends with the model's own prediction and reports one row per layer", async () => {
    const lens = await logitLens(model, ids);
    expect(lens.map((l) => l.name)).toEqual([
      'hook_embed',
      'blocks.0.hook_resid_post',
      'blocks.1.hook_resid_post',
    ]);
    const logits = await model.forward(ids);
    const vocab = model.config.vocabSize;
    const last = lens.at(-1)!;
    for (let t = 0; t < ids.length; t++) {
      const row = logits.subarray(t * vocab, (t + 1) * vocab);
      expect(last.topIds[t]).toBe(argmax(row));
      const max = row[argmax(row)]!;
      const prob = 1 / row.reduce((s, v) => s + Math.exp(v - max), 0);
      expect(last.topProbs[t]).toBeCloseTo(prob, 5);
    }
  });

  it('gives the reference per-token logprobs', async () => {
    const f16 = await NeoXModel.load(
      { folder: fixtureFolder('tiny-neox-f16') },
      { device, dtype: 'f32' },
    );
    for (const c of golden('tiny-neox-f16')) {
      const ours = await tokenLogprobs(f16, c.ids);
      expect(ours).toHaveLength(c.ids.length - 1);
      c.token_logprobs.forEach((lp, t) => {
        expect(Math.abs(ours[t]! - lp)).toBeLessThanOrEqual(2e-3 * Math.max(1, Math.abs(lp)));
      });
    }
    f16.dispose();
  });
});

describe('prefillBatch', () => {
  it('prefills prompts of different lengths at their own positions, ready to decode', async () => {
    const prompts = [ids, other.slice(0, 3), [42]];
    const caches = prompts.map(() => model.createCache(16));
    const last = await model.prefillBatch(prompts, caches);
    const vocab = model.config.vocabSize;
    for (const [i, prompt] of prompts.entries()) {
      const alone = await model.forward(prompt);
      expect(maxAbsDiff(last[i]!, alone.subarray((prompt.length - 1) * vocab))).toBeLessThanOrEqual(
        1e-5,
      );
      expect(caches[i]!.length).toBe(prompt.length);
    }
    // Each cache continues its own sequence.
    const next = await model.forward([7], { cache: caches[1]!, logits: 'last' });
    const full = await model.forward([...other.slice(0, 3), 7], { logits: 'last' });
    expect(maxAbsDiff(next, full)).toBeLessThanOrEqual(1e-4);
    for (const c of caches) c.dispose();
    await expect(model.prefillBatch(prompts, caches.slice(1))).rejects.toThrow(
      /3 prompts but 2 caches/,
    );
  });
});

// Batches: several sequences packed into one pass give each what a run on it alone gives.
const batch = [[5, 99, 1024, 7, 300, 12], [17], [42, 8, 1999, 640, 3, 77, 1500, 9, 2047]];

/** Entropy of softmax(row) in float64. */
function entropy(row: ArrayLike<number>): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  let h = 0;
  for (let i = 0; i < row.length; i++) {
    const lp = row[i]! - max - Math.log(sum);
    h -= Math.exp(lp) * lp;
  }
  return h;
}

describe('runWithCache on a batch', () => {
  for (const [label, which] of [
    ['parallel residual (tiny-neox-bin)', () => model],
    ['sequential residual (tiny-neox-f32-sharded)', () => sequential],
  ] as const) {
    it(`${label}: every hook point of every sequence equals its run alone, shape and values`, async () => {
      const m = which();
      const names = hookNames(m.config.numLayers, m.config.parallelResidual);
      const { logits, caches } = await runWithCache(m, batch, { names });
      expect(caches).toHaveLength(batch.length);
      for (const [i, ids] of batch.entries()) {
        const alone = await runWithCache(m, ids, { names });
        expect(maxAbsDiff(logits[i]!, alone.logits)).toBeLessThanOrEqual(1e-4);
        for (const name of names) {
          const got = caches[i]!.get(name)!;
          const want = alone.cache.get(name)!;
          expect([name, got.shape]).toEqual([name, want.shape]);
          expect([name, maxAbsDiff(got.data, want.data) <= 1e-4]).toEqual([name, true]);
        }
      }
    });
  }
});

describe('runWithHooks on a batch', () => {
  it('a steering row and a zero ablation act on every sequence as on each alone', async () => {
    const steer = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 0.5);
    const hooks = {
      'blocks.0.hook_resid_post': (a: { add(v: ArrayLike<number>): void }) => a.add(steer),
      'blocks.1.hook_attn_out': (a: { zero(): void }) => a.zero(),
    };
    const together = await runWithHooks(model, batch, hooks);
    for (const [i, ids] of batch.entries()) {
      const alone = await runWithHooks(model, ids, hooks);
      expect(maxAbsDiff(together[i]!, alone)).toBeLessThanOrEqual(1e-4);
      // And the hooks did change something.
      expect(maxAbsDiff(alone, await model.forward(ids))).toBeGreaterThan(1e-3);
    }
  });
});

describe('scoring on the GPU', () => {
  it('scoreTokens gives each token its float64 logprob, entropy, rank and argmax from the full logits', async () => {
    const vocab = model.config.vocabSize;
    const scores = await scoreTokens(model, batch);
    for (const [i, ids] of batch.entries()) {
      const logits = await model.forward(ids);
      const s = scores[i]!;
      expect(s.logprob.length).toBe(ids.length - 1);
      for (let t = 0; t + 1 < ids.length; t++) {
        const row = logits.subarray(t * vocab, (t + 1) * vocab);
        const target = ids[t + 1]!;
        expect(Math.abs(s.logprob[t]! - logSoftmaxAt(row, target))).toBeLessThanOrEqual(1e-4);
        expect(Math.abs(s.entropy[t]! - entropy(row))).toBeLessThanOrEqual(1e-4);
        expect(s.rank[t]).toBe(row.filter((x) => x > row[target]!).length);
        expect(s.argmax[t]).toBe(argmax(row));
      }
    }
  });

  it('tokenLogprobs of a batch equals the golden float64 logprobs of each case', async () => {
    const cases = golden('tiny-neox-bin');
    const out = await tokenLogprobs(
      model,
      cases.map((c) => c.ids),
    );
    for (const [i, c] of cases.entries()) {
      // f16 checkpoint weights loaded as f32: the reference's own weights, so tight.
      expect(maxAbsDiff(out[i]!, c.token_logprobs)).toBeLessThanOrEqual(2e-3);
    }
    const single = await tokenLogprobs(model, cases[0]!.ids);
    expect(maxAbsDiff(single, out[0]!)).toBeLessThanOrEqual(1e-5);
  });

  it('logitLens of a batch equals each sequence alone; its last layer is the model’s own argmax', async () => {
    const vocab = model.config.vocabSize;
    const together = await logitLens(model, batch);
    for (const [i, ids] of batch.entries()) {
      const alone = await logitLens(model, ids);
      expect(together[i]!.map((l) => l.topIds)).toEqual(alone.map((l) => l.topIds));
      for (const [l, layer] of together[i]!.entries()) {
        expect(maxAbsDiff(layer.topProbs, alone[l]!.topProbs)).toBeLessThanOrEqual(1e-5);
      }
      const logits = await model.forward(ids);
      expect(alone.at(-1)!.topIds).toEqual(
        ids.map((_, t) => argmax(logits.subarray(t * vocab, (t + 1) * vocab))),
      );
    }
  });
});
