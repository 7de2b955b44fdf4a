// Every hook point's returned activation is what the rest of the pass uses: for each hook point
// of both tiny fixtures, a deterministic edit through runWithHooks gives the logits of the same
// edit in an independent float64 reference (test/reference-forward.ts):
//   (a) the point alone, so the fused kernels around it run;
//   (b) with read-only hooks on neighbouring points that force the unfused paths (whose reads
//       must also match the edited reference);
//   (c) in a packed batch of two sequences, the edit on batch row 1 only;
// and the edit changed the logits. Also: the unedited activations of every point equal the
// reference's, and edits during `generate` (through the KV cache) give the tokens and logprobs
// of rerunning the reference on the whole sequence at each step with the edit.
import { readFileSync } from 'node:fs';
import { createDevice, type Device } from '@pythiajs/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generate,
  type Hook,
  type HookedActivation,
  hookNames,
  NeoXModel,
  runWithCache,
  runWithHooks,
  type Selection,
} from '../src/index.js';
import { fixtureFolder, golden, maxAbsDiff } from './golden.js';
import { type RefActivation, ReferenceNeoX, type RefHook } from './reference-forward.js';

/** An activation read back from a hook (`HookedActivation.read`). */
type Activation = Awaited<ReturnType<HookedActivation['read']>>;

const FIXTURES = ['tiny-neox-bin', 'tiny-neox-f32-sharded'] as const;
/** The single-sequence input, and row 0 of the batch. */
const SEQ_A = [5, 99, 1024, 7, 300, 12];
/** Row 1 of the batch (shorter than row 0: its patterns have keys beyond its length). */
const SEQ_B = [17, 42, 8, 1999, 640];
/** Logits within this of the reference. */
const TOL = 1e-4;
/** An edit that changes the logits by less than this counts as having had no effect. */
const EFFECT = 1e-3;

/** The edited position, and head for points with a head axis. */
const POS = 1;
const HEAD = 1;
/** Row `dest = POS` of a pattern after the edit: causal (0 beyond src = POS), sums to 1. */
const PATTERN_ROW = [0.25, 0.75];
/** Added to row POS of hook_resid_post. */
function steerRow(width: number): number[] {
  return Array.from({ length: width }, (_, i) => 0.5 * Math.sin(i + 1));
}
/** Added to row `dest = POS` of the scores (unmasked entries src ≤ POS only). */
const SCORES_ADD = [0.7, -0.4];

type Kind = 'rows' | 'steer' | 'head' | 'pattern' | 'scores' | 'scale';

function kindOf(name: string): Kind {
  if (name.endsWith('attn.hook_pattern')) return 'pattern';
  if (name.endsWith('attn.hook_attn_scores')) return 'scores';
  if (name.endsWith('hook_scale')) return 'scale';
  // Scaling the residual row that enters only ln_final would barely show (LayerNorm is
  // scale-invariant): add a steering row there, and at every hook_resid_post.
  if (name.endsWith('hook_resid_post')) return 'steer';
  if (/attn\.hook_(q|k|v|rot_q|rot_k|z|result)$/.test(name)) return 'head';
  return 'rows';
}

function padded(row: readonly number[], length: number): number[] {
  return Array.from({ length }, (_, i) => row[i] ?? 0);
}

/** The GPU edit of `name`, on the rows `extra` selects besides `{ pos: POS }`. */
function gpuEdit(name: string, extra: Selection): (a: Parameters<Hook>[0]) => void {
  switch (kindOf(name)) {
    case 'rows':
      return (a) => a.scale(0.5, { ...extra, pos: POS });
    case 'scale':
      return (a) => a.scale(1.5, { ...extra, pos: POS });
    case 'steer':
      return (a) => a.add(steerRow(a.shape[1]!), { ...extra, pos: POS });
    case 'head':
      return (a) => a.scale(0.5, { ...extra, pos: POS, head: HEAD });
    case 'pattern':
      return (a) => a.set(padded(PATTERN_ROW, a.shape[2]!), { ...extra, pos: POS, head: HEAD });
    case 'scores':
      return (a) => a.add(padded(SCORES_ADD, a.shape[2]!), { ...extra, pos: POS, head: HEAD });
  }
}

/** The same edit on the reference's activation (one sequence, no batch axis). */
function refEdit(name: string): RefHook {
  return (a: RefActivation) => {
    const data = Float64Array.from(a.data);
    const [, d1, d2] = a.shape as [number, number, number | undefined];
    switch (kindOf(name)) {
      case 'rows':
      case 'scale': {
        const by = kindOf(name) === 'scale' ? 1.5 : 0.5;
        for (let i = POS * d1; i < (POS + 1) * d1; i++) data[i]! *= by;
        break;
      }
      case 'steer': {
        steerRow(d1).forEach((v, i) => {
          data[POS * d1 + i]! += v;
        });
        break;
      }
      case 'head': {
        const from = (POS * d1 + HEAD) * d2!;
        for (let i = from; i < from + d2!; i++) data[i]! *= 0.5;
        break;
      }
      case 'pattern': {
        const from = (HEAD * d1 + POS) * d2!;
        padded(PATTERN_ROW, d2!).forEach((v, j) => {
          data[from + j] = v;
        });
        break;
      }
      case 'scores': {
        const from = (HEAD * d1 + POS) * d2!;
        padded(SCORES_ADD, d2!).forEach((v, j) => {
          data[from + j]! += v;
        });
        break;
      }
    }
    return { data, shape: a.shape };
  };
}

/**
 * Read-only hook points next to `name` whose presence makes the pass take its unfused path
 * around it (LayerNorm with a separate scale, split q/k/v with separate rotary, attention as
 * scores → softmax → weighted values, per-head results, unfused projections and MLP).
 */
function neighbours(name: string, layers: number, parallel: boolean): string[] {
  if (name === 'hook_embed') return ['blocks.0.ln1.hook_scale', 'blocks.0.hook_attn_out'];
  if (name === 'ln_final.hook_scale') return ['ln_final.hook_normalized'];
  if (name === 'ln_final.hook_normalized') return ['ln_final.hook_scale'];
  const match = /^blocks\.(\d+)\.(.+)$/.exec(name)!;
  const l = Number(match[1]);
  const b = `blocks.${l}`;
  switch (match[2]) {
    case 'hook_resid_pre':
      return [
        `${b}.ln1.hook_scale`,
        `${b}.hook_attn_out`,
        ...(parallel ? [`${b}.ln2.hook_scale`] : []),
      ];
    case 'ln1.hook_scale':
      return [`${b}.ln1.hook_normalized`, `${b}.attn.hook_q`];
    case 'ln1.hook_normalized':
      return [`${b}.ln1.hook_scale`, `${b}.attn.hook_q`];
    case 'attn.hook_q':
    case 'attn.hook_k':
    case 'attn.hook_v':
    case 'attn.hook_rot_k':
      return [`${b}.attn.hook_pattern`];
    case 'attn.hook_rot_q':
    case 'attn.hook_attn_scores':
      return [`${b}.attn.hook_q`, `${b}.attn.hook_pattern`];
    case 'attn.hook_pattern':
      return [`${b}.attn.hook_q`, `${b}.attn.hook_attn_scores`, `${b}.attn.hook_z`];
    case 'attn.hook_z':
      return [`${b}.attn.hook_pattern`, `${b}.attn.hook_result`];
    case 'attn.hook_result':
      return [`${b}.attn.hook_z`, `${b}.hook_attn_out`];
    case 'hook_attn_out':
      return [`${b}.attn.hook_result`, parallel ? `${b}.hook_mlp_out` : `${b}.hook_resid_mid`];
    case 'hook_resid_mid':
      return [`${b}.ln2.hook_scale`, `${b}.hook_mlp_out`];
    case 'ln2.hook_scale':
      return [`${b}.ln2.hook_normalized`, `${b}.mlp.hook_pre`];
    case 'ln2.hook_normalized':
      return [`${b}.ln2.hook_scale`, `${b}.mlp.hook_pre`];
    case 'mlp.hook_pre':
      return [`${b}.mlp.hook_post`, `${b}.hook_mlp_out`];
    case 'mlp.hook_post':
      return [`${b}.mlp.hook_pre`, `${b}.hook_mlp_out`];
    case 'hook_mlp_out':
      return [`${b}.mlp.hook_post`, `${b}.hook_attn_out`];
    case 'hook_resid_post':
      return l + 1 < layers
        ? [`blocks.${l + 1}.ln1.hook_scale`, `blocks.${l + 1}.hook_attn_out`]
        : ['ln_final.hook_scale'];
    default:
      throw new Error(`no neighbours for ${name}`);
  }
}

/** One sequence's share of a packed batch activation (rows, or the dest rows and own keys). */
function slicePacked(
  name: string,
  a: Activation,
  start: number,
  count: number,
): { data: Float32Array; shape: number[] } {
  if (kindOf(name) === 'pattern' || kindOf(name) === 'scores') {
    const [heads, rows, keys] = a.shape as [number, number, number];
    const data = new Float32Array(heads * count * count);
    for (let h = 0; h < heads; h++) {
      for (let t = 0; t < count; t++) {
        const from = (h * rows + start + t) * keys;
        data.set(a.data.subarray(from, from + count), (h * count + t) * count);
      }
    }
    return { data, shape: [heads, count, count] };
  }
  const width = a.shape.slice(1).reduce((x, y) => x * y, 1);
  return {
    data: a.data.slice(start * width, (start + count) * width),
    shape: [count, ...a.shape.slice(1)],
  };
}

/** Describes where `got` and the reference's activation disagree, or returns undefined. */
function activationMismatch(
  label: string,
  got: { data: Float32Array; shape: readonly number[] },
  want: RefActivation,
): string | undefined {
  if (got.shape.join() !== want.shape.join()) {
    return `${label}: shape [${got.shape.join(', ')}], reference [${want.shape.join(', ')}]`;
  }
  const diff = maxAbsDiff(got.data, want.data);
  return diff <= TOL ? undefined : `${label}: max |Δ| ${diff.toExponential(2)} > ${TOL}`;
}

function logSoftmaxRow(row: ArrayLike<number>, id: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return row[id]! - max - Math.log(sum);
}

function argmaxRow(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

let device: Device;
const models = new Map<string, NeoXModel>();
const references = new Map<string, ReferenceNeoX>();

beforeAll(async () => {
  device = await createDevice();
  for (const fixture of FIXTURES) {
    const folder = fixtureFolder(fixture);
    models.set(fixture, await NeoXModel.load({ folder }, { device, dtype: 'f32' }));
    references.set(fixture, await ReferenceNeoX.load(folder));
  }
});
afterAll(() => {
  for (const m of models.values()) m.dispose();
  device?.destroy();
});

for (const fixture of FIXTURES) {
  const config = JSON.parse(readFileSync(`${fixtureFolder(fixture)}/config.json`, 'utf8'));
  const layers: number = config.num_hidden_layers;
  const parallel = config.use_parallel_residual !== false;
  const names = hookNames(layers, parallel);
  const model = () => models.get(fixture)!;
  const reference = () => references.get(fixture)!;
  const vocab: number = config.vocab_size;
  /** The reference run of `ids` with `name`'s edit, memoized (modes a and b share it). */
  const edited = new Map<string, ReturnType<ReferenceNeoX['run']>>();
  const refEdited = (name: string, ids: readonly number[]) => {
    const key = `${name} ${ids.join(',')}`;
    if (!edited.has(key)) edited.set(key, reference().run(ids, { [name]: refEdit(name) }));
    return edited.get(key)!;
  };

  // Unedited runs, computed once per fixture.
  let plainA: Float32Array;
  let plainBatch: Float32Array[];
  let refA: ReturnType<ReferenceNeoX['run']>;
  let refB: ReturnType<ReferenceNeoX['run']>;
  beforeAll(async () => {
    plainA = await model().forward(SEQ_A);
    plainBatch = await runWithHooks(model(), [SEQ_A, SEQ_B], {});
    refA = reference().run(SEQ_A);
    refB = reference().run(SEQ_B);
  });

  describe(`${fixture}: the reference and the unedited pass`, () => {
    it('the reference has the same hook points, and its logits are the model’s', () => {
      expect(reference().hookNames()).toEqual(names);
      expect(maxAbsDiff(plainA, refA.logits)).toBeLessThanOrEqual(TOL);
      expect(maxAbsDiff(plainBatch[0]!, refA.logits)).toBeLessThanOrEqual(TOL);
      expect(maxAbsDiff(plainBatch[1]!, refB.logits)).toBeLessThanOrEqual(TOL);
    });

    it('the reference reproduces the fixture’s float64 goldens (golden.json, hooks-golden.json)', () => {
      const ref = reference();
      for (const c of golden(fixture)) {
        const { logits } = ref.run(c.ids, {}, { logits: 'last' });
        expect(maxAbsDiff(logits, c.logits_last)).toBeLessThanOrEqual(TOL);
        const ids = [...c.ids];
        for (const want of c.greedy.slice(0, 3)) {
          const next = argmaxRow(ref.run(ids, {}, { logits: 'last' }).logits);
          expect(next).toBe(want);
          ids.push(next);
        }
      }
      const hooksGolden = JSON.parse(
        readFileSync(`${fixtureFolder(fixture)}/hooks-golden.json`, 'utf8'),
      ) as {
        ids: number[];
        logits_last: number[];
        reads: Record<string, { shape: number[]; first8: Array<number | null>; sum: number }>;
      };
      const { logits, cache } = ref.run(hooksGolden.ids, {}, { logits: 'last' });
      expect(maxAbsDiff(logits, hooksGolden.logits_last)).toBeLessThanOrEqual(TOL);
      const wrong: string[] = [];
      for (const [name, want] of Object.entries(hooksGolden.reads)) {
        const got = cache.get(name);
        if (!got || got.shape.join() !== want.shape.join()) {
          wrong.push(`${name}: shape ${got?.shape}`);
          continue;
        }
        const first8 = want.first8.map((v) => v ?? Number.NEGATIVE_INFINITY);
        if (maxAbsDiff(got.data.subarray(0, 8), first8) > TOL) wrong.push(`${name}: first8`);
        let sum = 0;
        for (const v of got.data) if (Number.isFinite(v)) sum += v;
        if (Math.abs(sum - want.sum) > TOL * Math.max(1, Math.abs(want.sum))) {
          wrong.push(`${name}: sum ${sum}, golden ${want.sum}`);
        }
      }
      expect(wrong).toEqual([]);
    });

    it('runWithCache gives every hook point the reference activation, alone and batched', async () => {
      const { logits, cache } = await runWithCache(model(), SEQ_A, { names });
      expect(maxAbsDiff(logits, refA.logits)).toBeLessThanOrEqual(TOL);
      const batch = await runWithCache(model(), [SEQ_A, SEQ_B], { names });
      const wrong: string[] = [];
      for (const name of names) {
        for (const [label, got, want] of [
          ['alone', cache.get(name), refA.cache.get(name)],
          ['batch row 0', batch.caches[0]!.get(name), refA.cache.get(name)],
          ['batch row 1', batch.caches[1]!.get(name), refB.cache.get(name)],
        ] as const) {
          if (!got || !want) wrong.push(`${name} (${label}): missing`);
          else {
            const bad = activationMismatch(`${name} (${label})`, got, want);
            if (bad) wrong.push(bad);
          }
        }
      }
      expect(wrong).toEqual([]);
    });
  });

  /** Checks one edited run against the reference; returns what disagrees. */
  function compareLogits(
    label: string,
    got: Float32Array,
    want: Float64Array,
    plain: Float32Array,
  ): string[] {
    const wrong: string[] = [];
    const diff = maxAbsDiff(got, want);
    if (diff > TOL) wrong.push(`${label}: logits max |Δ| vs reference ${diff.toExponential(2)}`);
    const effect = maxAbsDiff(got, plain);
    if (effect <= EFFECT)
      wrong.push(`${label}: the edit had no effect (${effect.toExponential(2)})`);
    if (process.env.EVERY_HOOK_EFFECTS) console.log(`effect ${label} ${effect.toExponential(2)}`);
    const T = got.length / vocab;
    const last = maxAbsDiff(got.subarray((T - 1) * vocab), want.subarray((T - 1) * vocab));
    if (last > TOL) wrong.push(`${label}: last-position logits max |Δ| ${last.toExponential(2)}`);
    return wrong;
  }

  describe(`${fixture}: an edit at each hook point, alone (fused paths around it)`, () => {
    for (const name of names) {
      it(name, async () => {
        const edit = gpuEdit(name, {});
        let edited: Promise<Activation> | undefined;
        const logits = await runWithHooks(model(), SEQ_A, {
          [name]: (a) => {
            edit(a);
            edited = a.read();
          },
        });
        const ref = refEdited(name, SEQ_A);
        const wrong = compareLogits(name, logits, ref.logits, plainA);
        const bad = activationMismatch(`${name} as edited`, await edited!, ref.cache.get(name)!);
        if (bad) wrong.push(bad);
        expect(wrong).toEqual([]);
      });
    }
  });

  describe(`${fixture}: an edit at each hook point, with neighbours forcing the unfused paths`, () => {
    for (const name of names) {
      const around = neighbours(name, layers, parallel);
      it(`${name} (+ ${around.join(', ')})`, async () => {
        for (const n of around) expect(names).toContain(n);
        const edit = gpuEdit(name, {});
        const reads = new Map<string, Promise<Activation>>();
        const hooks: Record<string, Hook> = {
          [name]: (a) => {
            edit(a);
            reads.set(name, a.read());
          },
        };
        for (const n of around) hooks[n] = (a) => void reads.set(n, a.read());
        const logits = await runWithHooks(model(), SEQ_A, hooks);
        const ref = refEdited(name, SEQ_A);
        const wrong = compareLogits(name, logits, ref.logits, plainA);
        for (const n of [name, ...around]) {
          const bad = activationMismatch(`${n} read`, await reads.get(n)!, ref.cache.get(n)!);
          if (bad) wrong.push(bad);
        }
        expect(wrong).toEqual([]);
      });
    }
  });

  describe(`${fixture}: an edit at each hook point on batch row 1 of two sequences`, () => {
    for (const name of names) {
      it(name, async () => {
        const edit = gpuEdit(name, { batch: 1 });
        let edited: Promise<Activation> | undefined;
        const [rowA, rowB] = await runWithHooks(model(), [SEQ_A, SEQ_B], {
          [name]: (a) => {
            edit(a);
            edited = a.read();
          },
        });
        const ref = refEdited(name, SEQ_B);
        const wrong = compareLogits(`${name} row 1`, rowB!, ref.logits, plainBatch[1]!);
        const row0 = maxAbsDiff(rowA!, refA.logits);
        if (row0 > TOL) wrong.push(`${name} row 0 (unedited): max |Δ| ${row0.toExponential(2)}`);
        const packed = await edited!;
        for (const [label, start, count, want] of [
          ['row 0 as edited', 0, SEQ_A.length, refA.cache.get(name)!],
          ['row 1 as edited', SEQ_A.length, SEQ_B.length, ref.cache.get(name)!],
        ] as const) {
          const bad = activationMismatch(
            `${name} ${label}`,
            slicePacked(name, packed, start, count),
            want,
          );
          if (bad) wrong.push(bad);
        }
        expect(wrong).toEqual([]);
      });
    }
  });

  describe(`${fixture}: generate with an edit at each hook point (KV cache) = the reference rerun`, () => {
    for (const name of names) {
      it(name, async () => {
        const edit = gpuEdit(name, {});
        const tokens: Array<{ id: number; logprob: number }> = [];
        for await (const t of generate(model(), {
          ids: SEQ_A,
          maxNewTokens: 3,
          temperature: 0,
          eosTokenId: null,
          hooks: { [name]: (a) => edit(a) },
        })) {
          tokens.push({ id: t.id, logprob: t.logprob });
        }
        const ids = [...SEQ_A];
        const wrong: string[] = [];
        for (const [step, token] of tokens.entries()) {
          const last =
            step === 0
              ? refEdited(name, SEQ_A).logits.subarray((ids.length - 1) * vocab)
              : reference().run(ids, { [name]: refEdit(name) }, { logits: 'last' }).logits;
          const id = argmaxRow(last);
          if (token.id !== id) wrong.push(`step ${step}: token ${token.id}, reference ${id}`);
          const lp = logSoftmaxRow(last, id);
          if (Math.abs(token.logprob - lp) > TOL) {
            wrong.push(`step ${step}: logprob ${token.logprob}, reference ${lp}`);
          }
          ids.push(id);
        }
        expect(tokens).toHaveLength(3);
        expect(wrong).toEqual([]);
      });
    }
  });
}
