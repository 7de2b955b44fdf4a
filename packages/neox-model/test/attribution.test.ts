import { openCheckpoint, tensorData } from '@pythiajs/checkpoint-hub';
import { LocalFolderStore } from '@pythiajs/checkpoint-hub/node';
import { createDevice, type Device, f16BitsToF32Array, type Tensor } from '@pythiajs/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActivationCache,
  accumulatedResid,
  attributionNames,
  decomposeResid,
  directLogitAttribution,
  ForwardError,
  logitAttrs,
  NeoXModel,
  type ResidualStack,
  runWithCache,
  stackHeadResults,
} from '../src/index.js';
import { fixtureFolder } from './golden.js';

/** A fixture's parameters, read from its checkpoint (not from the GPU) as float64. */
interface Reference {
  lnWeight: Float64Array;
  lnBias: Float64Array;
  unembed: Float64Array;
  denseBias: Float64Array[];
}

interface Fixture {
  name: string;
  model: NeoXModel;
  ref: Reference;
  /** A run of `ids` with every attribution hook: its logits [T × vocab] and cache. */
  logits: Float32Array;
  cache: ActivationCache;
}

let device: Device;
const fixtures: Fixture[] = [];
let f16Model: NeoXModel;
const ids = [5, 99, 1024, 7, 300, 12];
const T = ids.length;
/** Tokens attributed at each position: the next ids, and 42 after the last. */
const targets = [...ids.slice(1), 42];
const wrong = [17, 3, 2000, 640, 8, 1999];

async function readReference(name: string, layers: number): Promise<Reference> {
  const checkpoint = await openCheckpoint(fixtureFolder(name), 'local', new LocalFolderStore());
  const read = async (tensor: string) => {
    const entry = checkpoint.tensors.get(tensor)!;
    const data = tensorData(entry.dtype, await checkpoint.read(tensor));
    return Float64Array.from(
      entry.dtype === 'F16' ? f16BitsToF32Array(data as Uint16Array) : (data as Float32Array),
    );
  };
  const ref: Reference = {
    lnWeight: await read('gpt_neox.final_layer_norm.weight'),
    lnBias: await read('gpt_neox.final_layer_norm.bias'),
    unembed: await read('embed_out.weight'),
    denseBias: [],
  };
  for (let l = 0; l < layers; l++) {
    ref.denseBias.push(await read(`gpt_neox.layers.${l}.attention.dense.bias`));
  }
  await checkpoint.close();
  return ref;
}

beforeAll(async () => {
  device = await createDevice();
  for (const name of ['tiny-neox-bin', 'tiny-neox-f32-sharded']) {
    const model = await NeoXModel.load({ folder: fixtureFolder(name) }, { device, dtype: 'f32' });
    const ref = await readReference(name, model.config.numLayers);
    const { logits, cache } = await runWithCache(model, ids, {
      names: attributionNames(model, { heads: true }),
    });
    fixtures.push({ name, model, ref, logits, cache });
  }
  f16Model = await NeoXModel.load(
    { folder: fixtureFolder('tiny-neox-bin') },
    { device, dtype: 'f16' },
  );
});
afterAll(() => {
  for (const f of fixtures) f.model.dispose();
  f16Model?.dispose();
  device?.destroy();
});

/** The model's logit of `token` at position `p`, from a `[T × vocab]` run. */
function logitAt(f: { model: NeoXModel; logits: Float32Array }, p: number, token: number): number {
  return f.logits[p * f.model.config.vocabSize + token]!;
}

/** Row `p` of a `[T, d]` cache entry, as float64. */
function row(cache: ActivationCache, name: string, p: number): Float64Array {
  const { data, shape } = cache.get(name)!;
  const d = shape[1]!;
  return Float64Array.from(data.subarray(p * d, (p + 1) * d));
}

/** Σ over components of a stack at stack position `pi`. */
function stackSum(stack: ResidualStack, pi: number): Float64Array {
  const [C, P, d] = stack.shape;
  const out = new Float64Array(d);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < d; i++) out[i] = out[i]! + stack.data[(c * P + pi) * d + i]!;
  }
  return out;
}

function component(stack: ResidualStack, c: number, pi: number): Float64Array {
  const [, P, d] = stack.shape;
  return stack.data.slice((c * P + pi) * d, (c * P + pi + 1) * d);
}

/** max |a − b| / max(1, max |b|). */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

/** LayerNorm's normalization without its affine part, in float64: (x − mean) / √(var + eps). */
function normalize(x: Float64Array, eps: number): Float64Array {
  const d = x.length;
  const mean = x.reduce((a, b) => a + b, 0) / d;
  const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / d;
  const s = Math.sqrt(variance + eps);
  return x.map((v) => (v - mean) / s);
}

/** The unfolded logit direction w_ln ⊙ W_U[token] from the checkpoint, in float64. */
function direction(ref: Reference, token: number): Float64Array {
  const d = ref.lnWeight.length;
  return ref.lnWeight.map((w, i) => w * ref.unembed[token * d + i]!);
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** The stream entering block `layer` (numLayers: entering ln_final), as cached. */
function residName(model: NeoXModel, layer: number): string {
  const n = model.config.numLayers;
  return layer === n ? `blocks.${n - 1}.hook_resid_post` : `blocks.${layer}.hook_resid_pre`;
}

function headLabels(layers: number, heads: number): string[] {
  return Array.from({ length: layers }, (_, l) =>
    Array.from({ length: heads }, (_, h) => `L${l}H${h}`),
  ).flat();
}

describe('labels and shapes, as TransformerLens gives them', () => {
  it('labels the parallel model (tiny-neox-bin) as TransformerLens does', () => {
    const { model, cache } = fixtures[0]!;
    expect(accumulatedResid(model, cache).labels).toEqual(['0_pre', '1_pre', 'final_post']);
    expect(accumulatedResid(model, cache, { layer: 1 }).labels).toEqual(['0_pre', '1_pre']);
    expect(accumulatedResid(model, cache, { layer: 0 }).labels).toEqual(['0_pre']);
    expect(decomposeResid(model, cache).labels).toEqual([
      'embed',
      '0_attn_out',
      '0_mlp_out',
      '1_attn_out',
      '1_mlp_out',
    ]);
    expect(decomposeResid(model, cache, { layer: 1 }).labels).toEqual([
      'embed',
      '0_attn_out',
      '0_mlp_out',
    ]);
    expect(decomposeResid(model, cache, { layer: 0 }).labels).toEqual(['embed']);
    expect(stackHeadResults(model, cache).labels).toEqual(headLabels(2, 4));
    expect(stackHeadResults(model, cache, { layer: 1, inclRemainder: true }).labels).toEqual([
      ...headLabels(1, 4),
      'remainder',
    ]);
    const stack = stackHeadResults(model, cache, { pos: [-1, 0] });
    expect(stack.shape).toEqual([8, 2, 64]);
    expect(stack.positions).toEqual([T - 1, 0]);
    expect(decomposeResid(model, cache).shape).toEqual([5, T, 64]);
  });

  it('labels the sequential model (tiny-neox-f32-sharded), with resid_mid', () => {
    const { model, cache } = fixtures[1]!;
    expect(accumulatedResid(model, cache).labels).toEqual([
      '0_pre',
      '1_pre',
      '2_pre',
      'final_post',
    ]);
    expect(accumulatedResid(model, cache, { inclMid: true }).labels).toEqual([
      '0_pre',
      '0_mid',
      '1_pre',
      '1_mid',
      '2_pre',
      '2_mid',
      'final_post',
    ]);
    expect(accumulatedResid(model, cache, { layer: 2, inclMid: true }).labels).toEqual([
      '0_pre',
      '0_mid',
      '1_pre',
      '1_mid',
      '2_pre',
    ]);
    expect(stackHeadResults(model, cache, { inclRemainder: true }).labels).toEqual([
      ...headLabels(3, 6),
      'remainder',
    ]);
    expect(accumulatedResid(model, cache, { inclMid: true, pos: -1 }).shape).toEqual([7, 1, 96]);
  });

  it('asks for the hook points the functions read, and only those', () => {
    const { model } = fixtures[0]!;
    const names = attributionNames(model);
    expect(names).toContain('ln_final.hook_scale');
    expect(names).toContain('blocks.1.hook_resid_post');
    expect(names).toContain('blocks.1.ln1.hook_scale');
    expect(names.some((n) => n.endsWith('hook_result'))).toBe(false);
    expect(names.some((n) => n.endsWith('hook_resid_mid'))).toBe(false);
    expect(attributionNames(model, { heads: true })).toContain('blocks.0.attn.hook_result');
    expect(attributionNames(fixtures[1]!.model)).toContain('blocks.2.hook_resid_mid');
  });
});

describe.each([0, 1])('fixture %i', (index) => {
  const f = () => fixtures[index]!;

  it('accumulatedResid holds the cached streams at the selected positions', () => {
    const { model, cache } = f();
    const n = model.config.numLayers;
    const mid = !model.config.parallelResidual;
    const stack = accumulatedResid(model, cache, { inclMid: mid, pos: [-1, 2, 0] });
    expect(stack.positions).toEqual([T - 1, 2, 0]);
    const expected: string[] = [];
    for (let l = 0; l < n; l++) {
      expected.push(`blocks.${l}.hook_resid_pre`);
      if (mid) expected.push(`blocks.${l}.hook_resid_mid`);
    }
    expected.push(`blocks.${n - 1}.hook_resid_post`);
    expected.forEach((name, c) => {
      stack.positions.forEach((p, pi) => {
        expect(component(stack, c, pi)).toEqual(row(cache, name, p));
      });
    });
  });

  it('decomposes the residual stream entering every layer into parts that sum to it', () => {
    const { model, cache } = f();
    for (let layer = 0; layer <= model.config.numLayers; layer++) {
      const stack = decomposeResid(model, cache, { layer });
      for (let p = 0; p < T; p++) {
        const resid = row(cache, residName(model, layer), p);
        expect(relDiff(stackSum(stack, p), resid)).toBeLessThanOrEqual(1e-4);
      }
    }
  });

  it("applyLn normalizes as the stream's LayerNorm does (ln1 of the layer, or ln_final)", () => {
    const { model, cache } = f();
    const eps = model.config.layerNormEps;
    const d = model.config.hiddenSize;
    for (let layer = 0; layer <= model.config.numLayers; layer++) {
      const stack = decomposeResid(model, cache, { layer, applyLn: true, pos: [0, -1] });
      stack.positions.forEach((p, pi) => {
        // The components' sum is the stream, centred and divided by its own LayerNorm scale.
        const expected = normalize(row(cache, residName(model, layer), p), eps);
        expect(relDiff(stackSum(stack, pi), expected)).toBeLessThanOrEqual(1e-4);
        for (let c = 0; c < stack.shape[0]; c++) {
          const mean = component(stack, c, pi).reduce((a, b) => a + b, 0) / d;
          expect(Math.abs(mean)).toBeLessThanOrEqual(1e-9);
        }
      });
    }
  });

  it('logitAttrs of the decomposition plus the bias term is the logit at every position', async () => {
    const { model, cache, ref } = f();
    const stack = decomposeResid(model, cache, { applyLn: true });
    const attrs = await logitAttrs(model, stack, { tokens: targets });
    expect(attrs.shape).toEqual([stack.shape[0], T]);
    expect(attrs.labels).toEqual(stack.labels);
    const [C] = stack.shape;
    for (let p = 0; p < T; p++) {
      // Each attribution against a float64 dot product with the checkpoint's weights.
      const dir = direction(ref, targets[p]!);
      for (let c = 0; c < C; c++) {
        const expected = dot(component(stack, c, p), dir);
        expect(Math.abs(attrs.data[c * T + p]! - expected)).toBeLessThanOrEqual(
          1e-5 * Math.max(1, Math.abs(expected)),
        );
      }
      const d = model.config.hiddenSize;
      const bias = dot(ref.lnBias, ref.unembed.subarray(targets[p]! * d, (targets[p]! + 1) * d));
      expect(attrs.bias[p]).toBeCloseTo(bias, 5);
      let sum = attrs.bias[p]!;
      for (let c = 0; c < C; c++) sum += attrs.data[c * T + p]!;
      const logit = logitAt(f(), p, targets[p]!);
      expect(Math.abs(sum - logit)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(logit)));
    }
  });

  it('the final_post of the normalized accumulated stream is the logit lens of the last layer', async () => {
    const { model, cache } = f();
    const stack = accumulatedResid(model, cache, { applyLn: true, pos: [1, -1] });
    const tokens = [targets[1]!, targets[T - 1]!];
    const attrs = await logitAttrs(model, stack, { tokens });
    const last = stack.shape[0] - 1;
    expect(stack.labels[last]).toBe('final_post');
    [1, T - 1].forEach((p, pi) => {
      const logit = logitAt(f(), p, tokens[pi]!);
      const lens = attrs.data[last * 2 + pi]! + attrs.bias[pi]!;
      expect(Math.abs(lens - logit)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(logit)));
    });
  });

  it('splits attention into heads: heads + dense bias = attn_out, and the remainder closes the sum', async () => {
    const { model, cache, ref } = f();
    const { numLayers: n, numHeads: H, hiddenSize: d } = model.config;
    const stack = stackHeadResults(model, cache, { inclRemainder: true });
    expect(stack.shape).toEqual([n * H + 1, T, d]);
    for (let p = 0; p < T; p++) {
      const remainder = component(stack, n * H, p);
      const biases = new Float64Array(d);
      for (let l = 0; l < n; l++) {
        const heads = new Float64Array(d);
        for (let h = 0; h < H; h++) {
          const c = component(stack, l * H + h, p);
          for (let i = 0; i < d; i++) heads[i] = heads[i]! + c[i]!;
        }
        const withBias = heads.map((v, i) => v + ref.denseBias[l]![i]!);
        expect(relDiff(withBias, row(cache, `blocks.${l}.hook_attn_out`, p))).toBeLessThanOrEqual(
          1e-4,
        );
        for (let i = 0; i < d; i++) biases[i] = biases[i]! + ref.denseBias[l]![i]!;
      }
      // Everything but the heads: the embedding, every MLP and every attention bias.
      const rest = row(cache, 'hook_embed', p).map((v, i) => v + biases[i]!);
      for (let l = 0; l < n; l++) {
        const m = row(cache, `blocks.${l}.hook_mlp_out`, p);
        for (let i = 0; i < d; i++) rest[i] = rest[i]! + m[i]!;
      }
      expect(relDiff(remainder, rest)).toBeLessThanOrEqual(1e-4);
      expect(relDiff(stackSum(stack, p), row(cache, residName(model, n), p))).toBeLessThanOrEqual(
        1e-4,
      );
    }
    // Normalized, the heads and the remainder unembed to the logit too.
    const normed = stackHeadResults(model, cache, { inclRemainder: true, applyLn: true, pos: -1 });
    const attrs = await logitAttrs(model, normed, { tokens: targets[T - 1]! });
    const logit = logitAt(f(), T - 1, targets[T - 1]!);
    const sum = attrs.data.reduce((a, b) => a + b, 0) + attrs.bias[0]!;
    expect(Math.abs(sum - logit)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(logit)));
  });

  it('attributes a logit difference as the difference of the two attributions', async () => {
    const { model, cache } = f();
    const stack = decomposeResid(model, cache, { applyLn: true });
    const good = await logitAttrs(model, stack, { tokens: targets });
    const bad = await logitAttrs(model, stack, { tokens: wrong });
    const diff = await logitAttrs(model, stack, { tokens: targets, incorrectTokens: wrong });
    diff.data.forEach((v, i) => {
      expect(v).toBeCloseTo(good.data[i]! - bad.data[i]!, 9);
    });
    const C = stack.shape[0];
    for (let p = 0; p < T; p++) {
      expect(diff.bias[p]).toBeCloseTo(good.bias[p]! - bad.bias[p]!, 9);
      let sum = diff.bias[p]!;
      for (let c = 0; c < C; c++) sum += diff.data[c * T + p]!;
      const logit = logitAt(f(), p, targets[p]!) - logitAt(f(), p, wrong[p]!);
      expect(Math.abs(sum - logit)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(logit)));
    }
    // One token for every position.
    const one = await logitAttrs(model, stack, { tokens: 42 });
    const many = await logitAttrs(model, stack, { tokens: Array(T).fill(42) });
    expect(one.data).toEqual(many.data);
  });

  it('directLogitAttribution by layer and by head sums to the logit of the run', async () => {
    const { model, ref } = f();
    const { numLayers: n, numHeads: H } = model.config;
    const layerLabels = ['embed'];
    const headwise = ['embed'];
    for (let l = 0; l < n; l++) {
      layerLabels.push(`${l}_attn_out`, `${l}_mlp_out`);
      headwise.push(...headLabels(l + 1, H).slice(l * H), `L${l} bias`, `${l}_mlp_out`);
    }
    for (const by of ['layer', 'head'] as const) {
      for (const position of [T - 1, 2]) {
        const dla = await directLogitAttribution(model, ids, {
          by,
          position,
          tokens: targets[position]!,
        });
        expect(dla.labels).toEqual(by === 'layer' ? layerLabels : headwise);
        expect(dla.position).toBe(position);
        expect(dla.token).toBe(targets[position]);
        // The logit is the model's, as a full run gives it.
        const full = logitAt(f(), position, targets[position]!);
        expect(Math.abs(dla.logit - full)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(full)));
        const sum = dla.values.reduce((a, b) => a + b, 0) + dla.bias;
        expect(Math.abs(sum - dla.logit)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(full)));
        // The attention bias term of each layer, against the checkpoint in float64.
        if (by === 'head') {
          const { cache } = f();
          const s = cache.get('ln_final.hook_scale')!.data[position]!;
          const dir = direction(ref, targets[position]!);
          for (let l = 0; l < n; l++) {
            const b = ref.denseBias[l]!;
            const mean = b.reduce((x, y) => x + y, 0) / b.length;
            const expected = dot(
              b.map((v) => (v - mean) / s),
              dir,
            );
            const got = dla.values[dla.labels.indexOf(`L${l} bias`)]!;
            expect(Math.abs(got - expected)).toBeLessThanOrEqual(
              1e-4 * Math.max(1, Math.abs(expected)),
            );
          }
        }
      }
    }
  });

  it("directLogitAttribution: 'next', the default token, arrays and the logit difference", async () => {
    const { model } = f();
    // 'next' defaults to the last position that has a next token.
    const next = await directLogitAttribution(model, ids, { tokens: 'next' });
    expect(next.position).toBe(T - 2);
    expect(next.token).toBe(ids[T - 1]);
    expect(next.logit).toBeCloseTo(logitAt(f(), T - 2, ids[T - 1]!), 4);
    // Default: the model's own top choice at the last position.
    const top = await directLogitAttribution(model, ids, { by: 'head' });
    const vocab = model.config.vocabSize;
    const lastRow = f().logits.subarray((T - 1) * vocab, T * vocab);
    let best = 0;
    for (let i = 1; i < vocab; i++) if (lastRow[i]! > lastRow[best]!) best = i;
    expect(top.position).toBe(T - 1);
    expect(top.token).toBe(best);
    // An array with one id per position of ids: the one at `position`; negative positions.
    const aligned = await directLogitAttribution(model, ids, { tokens: targets, position: -3 });
    expect(aligned.position).toBe(T - 3);
    expect(aligned.token).toBe(targets[T - 3]);
    // The logit difference.
    const diff = await directLogitAttribution(model, ids, {
      tokens: [targets[1]!],
      incorrectTokens: wrong[1]!,
      position: 1,
      by: 'head',
    });
    expect(diff.incorrectToken).toBe(wrong[1]);
    const logit = logitAt(f(), 1, targets[1]!) - logitAt(f(), 1, wrong[1]!);
    expect(Math.abs(diff.logit - logit)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(logit)));
    const sum = diff.values.reduce((a, b) => a + b, 0) + diff.bias;
    expect(Math.abs(sum - logit)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(logit)));
  });
});

describe('errors', () => {
  it('names the runWithCache call to make when the cache lacks an activation', async () => {
    const { model } = fixtures[0]!;
    const { cache } = await runWithCache(model, ids, { names: ['hook_embed'] });
    const call = /runWithCache\(model, ids, \{ names: attributionNames\(model\) \}\)/;
    expect(() => decomposeResid(model, cache)).toThrow(ForwardError);
    expect(() => decomposeResid(model, cache)).toThrow(/no blocks\.0\.hook_attn_out/);
    expect(() => decomposeResid(model, cache)).toThrow(call);
    expect(() => accumulatedResid(model, cache)).toThrow(call);
    expect(() => stackHeadResults(model, cache)).toThrow(
      /no blocks\.0\.attn\.hook_result; .*attributionNames\(model, \{ heads: true \}\)/,
    );
    // A cache without the scale cannot be normalized.
    const partial = await runWithCache(model, ids, {
      names: attributionNames(model).filter((n) => !n.endsWith('hook_scale')),
    });
    expect(() => decomposeResid(model, partial.cache)).not.toThrow();
    expect(() => decomposeResid(model, partial.cache, { applyLn: true })).toThrow(
      /no ln_final\.hook_scale/,
    );
    expect(() => decomposeResid(model, partial.cache, { layer: 1, applyLn: true })).toThrow(
      /no blocks\.1\.ln1\.hook_scale/,
    );
  });

  it('refuses inclMid on a parallel-residual model', () => {
    const { model, cache } = fixtures[0]!;
    expect(() => accumulatedResid(model, cache, { inclMid: true })).toThrow(ForwardError);
    expect(() => accumulatedResid(model, cache, { inclMid: true })).toThrow(
      /parallel residual.*no resid_mid/,
    );
  });

  it('refuses positions, layers and tokens out of range', async () => {
    const { model, cache } = fixtures[0]!;
    expect(() => decomposeResid(model, cache, { pos: T })).toThrow(/position 6 is out of range/);
    expect(() => decomposeResid(model, cache, { pos: [0, -T - 1] })).toThrow(/out of range/);
    expect(() => decomposeResid(model, cache, { pos: 1.5 })).toThrow(/out of range/);
    expect(() => decomposeResid(model, cache, { layer: 3 })).toThrow(/layer must be .* 0 to 2/);
    const stack = decomposeResid(model, cache, { pos: [0, 1] });
    await expect(logitAttrs(model, stack, { tokens: [1, 2, 3] })).rejects.toThrow(
      /3 ids but the stack has 2 positions/,
    );
    await expect(logitAttrs(model, stack, { tokens: 2048 })).rejects.toThrow(
      /outside the vocabulary of 2048/,
    );
    await expect(directLogitAttribution(model, ids, { position: T })).rejects.toThrow(
      /position 6 is out of range/,
    );
    await expect(directLogitAttribution(model, ids, { position: -T - 1 })).rejects.toThrow(
      ForwardError,
    );
    await expect(
      directLogitAttribution(model, ids, { tokens: 'next', position: -1 }),
    ).rejects.toThrow(/'next' needs a token after position 5/);
    await expect(directLogitAttribution(model, ids, { tokens: [1, 2] })).rejects.toThrow(
      /one per position of ids/,
    );
  });
});

describe('f16 weights', () => {
  it('still sums to the logits (unembedding rows gathered from the f16 table)', async () => {
    const model = f16Model;
    expect((model.weights.embedOut as Tensor).dtype).toBe('f16');
    const { logits, cache } = await runWithCache(model, ids, {
      names: attributionNames(model, { heads: true }),
    });
    const tol = (x: number) => 2e-2 * Math.max(1, Math.abs(x));
    for (const stack of [
      decomposeResid(model, cache, { applyLn: true }),
      stackHeadResults(model, cache, { applyLn: true, inclRemainder: true }),
    ]) {
      const attrs = await logitAttrs(model, stack, { tokens: targets, incorrectTokens: wrong });
      const C = stack.shape[0];
      for (let p = 0; p < T; p++) {
        let sum = attrs.bias[p]!;
        for (let c = 0; c < C; c++) sum += attrs.data[c * T + p]!;
        const vocab = model.config.vocabSize;
        const logit = logits[p * vocab + targets[p]!]! - logits[p * vocab + wrong[p]!]!;
        expect(Math.abs(sum - logit)).toBeLessThanOrEqual(tol(logit));
      }
    }
    for (const by of ['layer', 'head'] as const) {
      const dla = await directLogitAttribution(model, ids, { by, tokens: 'next' });
      const sum = dla.values.reduce((a, b) => a + b, 0) + dla.bias;
      expect(Math.abs(sum - dla.logit)).toBeLessThanOrEqual(tol(dla.logit));
      // Close to the f32 model's attribution (the fixture's weights are f16 values).
      const f32 = await directLogitAttribution(fixtures[0]!.model, ids, { by, tokens: 'next' });
      expect(relDiff(dla.values, f32.values)).toBeLessThanOrEqual(2e-2);
    }
  });
});
