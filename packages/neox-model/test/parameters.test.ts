// TransformerLens-shaped parameters, checked by what they compute: each one, applied in float64
// to the activations a run reads, gives the next activation of that run.
import { createDevice, type Device } from '@pythiajs/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActivationCache,
  NeoXModel,
  parameterNames,
  readParameter,
  runWithCache,
} from '../src/index.js';
import { fixtureFolder, maxAbsDiff } from './golden.js';

let device: Device;
let model: NeoXModel;
let half: NeoXModel;
const ids = [5, 99, 1024, 7, 300, 12];
const T = ids.length;

beforeAll(async () => {
  device = await createDevice();
  const folder = fixtureFolder('tiny-neox-f32-sharded');
  model = await NeoXModel.load({ folder }, { device, dtype: 'f32' });
  half = await NeoXModel.load({ folder: fixtureFolder('tiny-neox-bin') }, { device, dtype: 'f16' });
});
afterAll(() => {
  model?.dispose();
  half?.dispose();
  device?.destroy();
});

/** out[t, n] = Σ_k x[t, k] · w[k, n] + b[n], in float64. */
function affine(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  k: number,
  n: number,
  b?: ArrayLike<number>,
) {
  const rows = x.length / k;
  const out = new Float64Array(rows * n);
  for (let t = 0; t < rows; t++) {
    for (let j = 0; j < n; j++) {
      let s = b ? b[j]! : 0;
      for (let i = 0; i < k; i++) s += x[t * k + i]! * w[i * n + j]!;
      out[t * n + j] = s;
    }
  }
  return out;
}

describe('readParameter', () => {
  let cache: ActivationCache;
  let logits: Float32Array;
  const d = 96;
  const heads = 6;
  const dh = 16;
  const mlp = 384;
  beforeAll(async () => {
    ({ logits, cache } = await runWithCache(model, ids, { names: () => true }));
  });
  const get = (name: string) => cache.get(name)!.data;

  it('lists TransformerLens names with their shapes', async () => {
    const names = parameterNames(model);
    expect(names.slice(0, 5)).toEqual([
      'embed.W_E',
      'blocks.0.ln1.w',
      'blocks.0.ln1.b',
      'blocks.0.ln2.w',
      'blocks.0.ln2.b',
    ]);
    expect(names.at(-1)).toBe('unembed.W_U');
    expect(names).toHaveLength(1 + 3 * 16 + 3);
    const shapes = Object.fromEntries(
      await Promise.all(
        names
          .filter((n) => !n.startsWith('blocks.1') && !n.startsWith('blocks.2'))
          .map(async (n) => [n, (await readParameter(model, n)).shape]),
      ),
    );
    expect(shapes['embed.W_E']).toEqual([2048, d]);
    expect(shapes['unembed.W_U']).toEqual([d, 2048]);
    expect(shapes['blocks.0.attn.W_Q']).toEqual([heads, d, dh]);
    expect(shapes['blocks.0.attn.W_O']).toEqual([heads, dh, d]);
    expect(shapes['blocks.0.attn.b_V']).toEqual([heads, dh]);
    expect(shapes['blocks.0.mlp.W_in']).toEqual([d, mlp]);
    expect(shapes['blocks.0.mlp.W_out']).toEqual([mlp, d]);
    await expect(readParameter(model, 'blocks.0.attn.W_X')).rejects.toThrow(
      /no parameter .*parameterNames lists them/,
    );
    await expect(readParameter(model, 'blocks.3.ln1.w')).rejects.toThrow(/no parameter/);
  });

  it('W_Q, W_K, W_V and their biases map ln1 to q, k and v of every head', async () => {
    const x = get('blocks.1.ln1.hook_normalized');
    for (const [which, hook] of [
      ['Q', 'q'],
      ['K', 'k'],
      ['V', 'v'],
    ] as const) {
      const W = (await readParameter(model, `blocks.1.attn.W_${which}`)).data;
      const b = (await readParameter(model, `blocks.1.attn.b_${which}`)).data;
      const act = get(`blocks.1.attn.hook_${hook}`); // [T, heads, dh]
      for (let h = 0; h < heads; h++) {
        const out = affine(
          x,
          W.subarray(h * d * dh, (h + 1) * d * dh),
          d,
          dh,
          b.subarray(h * dh, (h + 1) * dh),
        );
        const want = Array.from(
          { length: T * dh },
          (_, i) => act[(Math.floor(i / dh) * heads + h) * dh + (i % dh)]!,
        );
        expect(maxAbsDiff(out, want)).toBeLessThan(1e-4);
      }
    }
  });

  it('W_O maps each head of z to its result; b_O completes attn_out', async () => {
    const W = (await readParameter(model, 'blocks.2.attn.W_O')).data;
    const bO = (await readParameter(model, 'blocks.2.attn.b_O')).data;
    const z = get('blocks.2.attn.hook_z');
    const result = get('blocks.2.attn.hook_result'); // [T, heads, d]
    const sum = new Float64Array(T * d);
    for (let h = 0; h < heads; h++) {
      const zh = Array.from(
        { length: T * dh },
        (_, i) => z[(Math.floor(i / dh) * heads + h) * dh + (i % dh)]!,
      );
      const out = affine(zh, W.subarray(h * dh * d, (h + 1) * dh * d), dh, d);
      const want = Array.from(
        { length: T * d },
        (_, i) => result[(Math.floor(i / d) * heads + h) * d + (i % d)]!,
      );
      expect(maxAbsDiff(out, want)).toBeLessThan(1e-4);
      out.forEach((v, i) => {
        sum[i]! += v;
      });
    }
    expect(
      maxAbsDiff(
        sum.map((v, i) => v + bO[i % d]!),
        get('blocks.2.hook_attn_out'),
      ),
    ).toBeLessThan(1e-4);
  });

  it('W_in, W_out and W_U give mlp.hook_pre, hook_mlp_out and the logits; W_E the embedding', async () => {
    const pre = affine(
      get('blocks.0.ln2.hook_normalized'),
      (await readParameter(model, 'blocks.0.mlp.W_in')).data,
      d,
      mlp,
      (await readParameter(model, 'blocks.0.mlp.b_in')).data,
    );
    expect(maxAbsDiff(pre, get('blocks.0.mlp.hook_pre'))).toBeLessThan(1e-4);
    const out = affine(
      get('blocks.0.mlp.hook_post'),
      (await readParameter(model, 'blocks.0.mlp.W_out')).data,
      mlp,
      d,
      (await readParameter(model, 'blocks.0.mlp.b_out')).data,
    );
    expect(maxAbsDiff(out, get('blocks.0.hook_mlp_out'))).toBeLessThan(1e-4);
    const W_U = (await readParameter(model, 'unembed.W_U')).data;
    expect(maxAbsDiff(affine(get('ln_final.hook_normalized'), W_U, d, 2048), logits)).toBeLessThan(
      1e-3,
    );
    const W_E = (await readParameter(model, 'embed.W_E')).data;
    const embed = ids.flatMap((id) => Array.from(W_E.subarray(id * d, (id + 1) * d)));
    expect(maxAbsDiff(embed, get('hook_embed'))).toBe(0);
    const lnW = (await readParameter(model, 'blocks.0.ln1.w')).data;
    expect(lnW).toHaveLength(d);
  });

  it('reads f16 weights as their f32 values, not as raw bits', async () => {
    const full = await NeoXModel.load(
      { folder: fixtureFolder('tiny-neox-bin') },
      { device, dtype: 'f32' },
    );
    for (const name of ['embed.W_E', 'blocks.1.attn.W_O', 'blocks.0.mlp.W_in', 'unembed.W_U']) {
      const a = await readParameter(half, name);
      const b = await readParameter(full, name);
      expect(a.shape).toEqual(b.shape);
      // The checkpoint is f16, so f16 and f32 loads hold the same values.
      expect(maxAbsDiff(a.data, b.data)).toBe(0);
    }
    full.dispose();
  });
});
