// Every hook point, intervention and patching grid against the float64 TransformerLens-style
// reference in fixtures/*/hooks-golden.json (see fixtures/README.md), with f32 weights.
import { readFileSync } from 'node:fs';
import { createDevice, type Device } from '@pythiajs/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  activationPatching,
  generate,
  type Hook,
  type HookedActivation,
  hookNames,
  NeoXModel,
  runWithCache,
  runWithHooks,
  type Selection,
} from '../src/index.js';
import { argmax, fixtureFolder, maxAbsDiff } from './golden.js';

interface GoldenHook {
  name: string;
  op: 'zero' | 'scale' | 'add' | 'set';
  by?: number;
  index?: Array<number | null>;
  values?: Array<number | null>;
  values_shape?: number[];
}
interface HooksGolden {
  ids: number[];
  corrupt_ids: number[];
  logits_last: number[];
  reads: Record<
    string,
    { shape: number[]; first8: Array<number | null>; sum: number; sum_sq: number; masked: number }
  >;
  interventions: Array<{
    description: string;
    hooks: GoldenHook[];
    logits_last: number[];
    top5_last: number[];
    greedy6: number[];
  }>;
  patching: { hook: string; clean_top: number; corrupt_top: number; grid: number[][] };
}

const FIXTURES = ['tiny-neox-bin', 'tiny-neox-f32-sharded'] as const;

function hooksGolden(name: string): HooksGolden {
  return JSON.parse(readFileSync(`${fixtureFolder(name)}/hooks-golden.json`, 'utf8'));
}

/** The golden `index` (per leading axis, null = all) as a selection by the hook's axis names. */
function selection(a: HookedActivation, index: GoldenHook['index']): Selection {
  const select: Record<string, number> = {};
  index?.forEach((i, axis) => {
    if (i !== null) select[a.axes[axis]!] = i;
  });
  return select;
}

/**
 * The golden hook as a hook function. Pattern and score replacements are given for the 7-token
 * prompt; on the steps of generation the same rule applies to the rows present (the fixture's
 * note): uniform over src ≤ dest for the pattern, 0 there (and −∞ above) for the scores.
 */
function toHook(g: GoldenHook): Hook {
  return (a) => {
    const select = selection(a, g.index);
    const rule = g.name.endsWith('hook_pattern') || g.name.endsWith('hook_attn_scores');
    if (g.op === 'zero') return a.zero(select);
    if (g.op === 'scale') return a.scale(g.by!, select);
    let values: number[] = g.values!.map((v) => (v === null ? Number.NEGATIVE_INFINITY : v));
    if (rule && g.op === 'set') {
      const positions = a.positions();
      const keys = a.shape[2]!;
      const heads = select.head === undefined ? a.shape[0]! : 1;
      const pattern = g.name.endsWith('hook_pattern');
      values = [];
      for (let h = 0; h < heads; h++) {
        for (const dest of positions) {
          for (let src = 0; src < keys; src++) {
            if (src > dest) values.push(pattern ? 0 : Number.NEGATIVE_INFINITY);
            else values.push(pattern ? 1 / (dest + 1) : 0);
          }
        }
      }
    }
    if (g.op === 'add') a.add(values, select);
    else a.set(values, select);
  };
}

function hooksOf(hooks: GoldenHook[]): Record<string, Hook[]> {
  const out: Record<string, Hook[]> = {};
  for (const h of hooks) out[h.name] = [...(out[h.name] ?? []), toHook(h)];
  return out;
}

function stats(data: Float32Array) {
  let sum = 0;
  let sumSq = 0;
  let masked = 0;
  for (const v of data) {
    if (!Number.isFinite(v)) {
      masked++;
      continue;
    }
    sum += v;
    sumSq += v * v;
  }
  return { sum, sumSq, masked };
}

let device: Device;
const models = new Map<string, NeoXModel>();

beforeAll(async () => {
  device = await createDevice();
  for (const name of FIXTURES) {
    models.set(
      name,
      await NeoXModel.load({ folder: fixtureFolder(name) }, { device, dtype: 'f32' }),
    );
  }
});
afterAll(() => {
  for (const m of models.values()) m.dispose();
  device?.destroy();
});

for (const fixture of FIXTURES) {
  const golden = hooksGolden(fixture);
  const model = () => models.get(fixture)!;

  describe(`${fixture}: hook points`, () => {
    it('names every hook point the reference has, and no other', () => {
      const ours = hookNames(model().config.numLayers, model().config.parallelResidual).filter(
        (n) => !n.endsWith('hook_scale'),
      );
      expect(ours).toEqual(Object.keys(golden.reads));
    });

    it('reads every hook point with the reference shape, values, sums and masked entries', async () => {
      const names = Object.keys(golden.reads);
      const { logits, cache } = await runWithCache(model(), golden.ids, { names });
      const vocab = model().config.vocabSize;
      const last = logits.subarray((golden.ids.length - 1) * vocab);
      expect(maxAbsDiff(last, golden.logits_last)).toBeLessThanOrEqual(1e-4);
      // Every hook point's disagreements, so a failure names them all.
      const wrong: string[] = [];
      for (const name of names) {
        const want = golden.reads[name]!;
        const got = cache.get(name)!;
        const s = stats(got.data);
        const checks: Array<[string, boolean]> = [
          ['shape', JSON.stringify(got.shape) === JSON.stringify(want.shape)],
          // null in JSON: a masked score, −∞.
          [
            'first8',
            maxAbsDiff(
              got.data.subarray(0, 8),
              want.first8.map((v) => v ?? -Infinity),
            ) <= 1e-4,
          ],
          ['masked', s.masked === want.masked],
          ['sum', Math.abs(s.sum - want.sum) <= 1e-4 * Math.max(1, Math.sqrt(want.sum_sq))],
          ['sum_sq', Math.abs(s.sumSq - want.sum_sq) <= 1e-4 * Math.max(1, want.sum_sq)],
        ];
        for (const [what, ok] of checks) if (!ok) wrong.push(`${name} ${what}`);
      }
      expect(wrong).toEqual([]);
    });

    it('gives each LayerNorm scale as √(var + eps) of its input, [pos, 1]', async () => {
      const m = model();
      const names = ['blocks.1.ln1.hook_scale', 'blocks.1.hook_resid_pre', 'ln_final.hook_scale'];
      const { cache } = await runWithCache(m, golden.ids, { names });
      const x = cache.get('blocks.1.hook_resid_pre')!;
      const scale = cache.get('blocks.1.ln1.hook_scale')!;
      const d = x.shape[1]!;
      expect(scale.shape).toEqual([golden.ids.length, 1]);
      expect(cache.get('ln_final.hook_scale')!.shape).toEqual([golden.ids.length, 1]);
      for (let t = 0; t < golden.ids.length; t++) {
        const row = Array.from(x.data.subarray(t * d, (t + 1) * d));
        const mean = row.reduce((a, b) => a + b, 0) / d;
        const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / d;
        expect(Math.abs(scale.data[t]! - Math.sqrt(variance + m.config.layerNormEps))).toBeLessThan(
          1e-5,
        );
      }
    });
  });

  describe(`${fixture}: interventions`, () => {
    for (const intervention of golden.interventions) {
      it(`${intervention.description}: the reference logits and greedy tokens`, async () => {
        const m = model();
        const hooks = hooksOf(intervention.hooks);
        const logits = await runWithHooks(m, golden.ids, hooks, { logits: 'last' });
        expect(maxAbsDiff(logits, intervention.logits_last)).toBeLessThanOrEqual(1e-4);
        const top5 = Array.from(logits.keys())
          .sort((a, b) => logits[b]! - logits[a]! || a - b)
          .slice(0, 5);
        expect(top5).toEqual(intervention.top5_last);
        // The intervention changed the output as much as the reference says (not a no-op).
        expect(maxAbsDiff(logits, golden.logits_last)).toBeGreaterThan(1e-2);
        // Greedy generation with the hooks on at every step, through the KV cache.
        const tokens: number[] = [];
        for await (const t of generate(m, {
          ids: golden.ids,
          maxNewTokens: 6,
          temperature: 0,
          eosTokenId: null,
          hooks,
        })) {
          tokens.push(t.id);
        }
        expect(tokens).toEqual(intervention.greedy6);
      });
    }
  });

  describe(`${fixture}: activation patching`, () => {
    it('patching resid_pre layer × position gives the reference grid, in few passes', async () => {
      const m = model();
      const { clean_top, corrupt_top, grid } = golden.patching;
      const ours = await activationPatching(m, {
        corrupt: golden.corrupt_ids,
        clean: golden.ids,
        activation: 'resid_pre',
        metric: (logits) => logits[clean_top]! - logits[corrupt_top]!,
      });
      expect(ours).toHaveLength(grid.length);
      for (const [l, row] of grid.entries()) {
        expect(maxAbsDiff(ours[l]!, row)).toBeLessThanOrEqual(1e-4);
      }
      // The metric's two tokens are the runs' own top predictions.
      const corrupt = await runWithHooks(m, golden.corrupt_ids, {}, { logits: 'last' });
      expect(argmax(corrupt)).toBe(corrupt_top);
      expect(argmax(await m.forward(golden.ids, { logits: 'last' }))).toBe(clean_top);
    });
  });
}
