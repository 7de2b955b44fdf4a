import { openCheckpoint, tensorData } from '@pythiajs/checkpoint-hub';
import { LocalFolderStore } from '@pythiajs/checkpoint-hub/node';
import { createDevice, type Device, f16BitsToF32Array } from '@pythiajs/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ForwardError,
  InvalidInputError,
  type LensLayer,
  logitLens,
  NeoXModel,
  NO_RANK,
  runWithCache,
  TokenOutOfVocabularyError,
} from '../src/index.js';
import { fixtureFolder, maxAbsDiff } from './golden.js';

// The lens against an independent float64 computation: the residual stream read with
// runWithCache, the final LayerNorm and the unembedding done here from the checkpoint's weights.

/** The final LayerNorm and unembedding of a checkpoint, as float64-friendly arrays. */
interface Unembedding {
  weight: Float32Array;
  bias: Float32Array;
  unembed: Float32Array; // [vocab, hidden]
  eps: number;
  hidden: number;
  vocab: number;
}

let device: Device;
let model: NeoXModel; // tiny-neox-bin: 2048 ids, hidden 64, 2 layers
let wide: NeoXModel; // tiny-neox-f16: Pythia's 50304 ids, hidden 32, 2 layers
let modelHead: Unembedding;
let wideHead: Unembedding;
const ids = [5, 99, 1024, 7, 300, 12];
const batch = [ids, [17], [42, 8, 1999, 640, 3, 77, 1500, 9, 2047]];

async function readUnembedding(fixture: string, m: NeoXModel): Promise<Unembedding> {
  const checkpoint = await openCheckpoint(fixtureFolder(fixture), 'local', new LocalFolderStore());
  const read = async (name: string) => {
    const entry = checkpoint.tensors.get(name)!;
    const data = tensorData(entry.dtype, await checkpoint.read(name));
    return entry.dtype === 'F16' ? f16BitsToF32Array(data as Uint16Array) : (data as Float32Array);
  };
  const head = {
    weight: await read('gpt_neox.final_layer_norm.weight'),
    bias: await read('gpt_neox.final_layer_norm.bias'),
    unembed: await read('embed_out.weight'),
    eps: m.config.layerNormEps,
    hidden: m.config.hiddenSize,
    vocab: m.config.vocabSize,
  };
  await checkpoint.close();
  return head;
}

beforeAll(async () => {
  device = await createDevice();
  model = await NeoXModel.load(
    { folder: fixtureFolder('tiny-neox-bin') },
    { device, dtype: 'f32' },
  );
  wide = await NeoXModel.load({ folder: fixtureFolder('tiny-neox-f16') }, { device, dtype: 'f32' });
  modelHead = await readUnembedding('tiny-neox-bin', model);
  wideHead = await readUnembedding('tiny-neox-f16', wide);
});
afterAll(() => {
  model?.dispose();
  wide?.dispose();
  device?.destroy();
});

/** The lens' hook points of a 2-layer model. */
const NAMES = ['hook_embed', 'blocks.0.hook_resid_post', 'blocks.1.hook_resid_post'];

/** float64 log-softmax of one residual row through the final LayerNorm and unembedding. */
function referenceLogprobs(head: Unembedding, residual: ArrayLike<number>): Float64Array {
  const { hidden, vocab } = head;
  let mean = 0;
  for (let i = 0; i < hidden; i++) mean += residual[i]!;
  mean /= hidden;
  let variance = 0;
  for (let i = 0; i < hidden; i++) variance += (residual[i]! - mean) ** 2;
  variance /= hidden;
  const scale = 1 / Math.sqrt(variance + head.eps);
  const x = Float64Array.from(
    { length: hidden },
    (_, i) => (residual[i]! - mean) * scale * head.weight[i]! + head.bias[i]!,
  );
  const logits = new Float64Array(vocab);
  let max = Number.NEGATIVE_INFINITY;
  for (let v = 0; v < vocab; v++) {
    let sum = 0;
    for (let i = 0; i < hidden; i++) sum += head.unembed[v * hidden + i]! * x[i]!;
    logits[v] = sum;
    max = Math.max(max, sum);
  }
  let total = 0;
  for (let v = 0; v < vocab; v++) total += Math.exp(logits[v]! - max);
  const lse = max + Math.log(total);
  return logits.map((l) => l - lse);
}

/** Per lens layer, per position of `positions`: the reference log-probabilities. */
async function reference(
  m: NeoXModel,
  head: Unembedding,
  sequence: number[],
  positions: number[],
): Promise<Float64Array[][]> {
  const { cache } = await runWithCache(m, sequence, { names: NAMES, returns: 'none' });
  return NAMES.map((name) => {
    const { data } = cache.get(name)!;
    return positions.map((t) =>
      referenceLogprobs(head, data.subarray(t * head.hidden, (t + 1) * head.hidden)),
    );
  });
}

/** How many entries of `row` are above `value` by more than `eps` and by more than −eps. */
function rankBounds(row: Float64Array, value: number, eps: number): [number, number] {
  let lo = 0;
  let hi = 0;
  for (const x of row) {
    if (x > value + eps) lo++;
    if (x > value - eps) hi++;
  }
  return [lo, hi];
}

/** Checks a lens layer's every field against the reference rows of its positions. */
function expectLayer(
  layer: LensLayer,
  rows: Float64Array[],
  options: { k?: number; chosen?: Array<number | undefined>; full?: boolean },
): void {
  const vocab = rows[0]?.length ?? 0;
  rows.forEach((row, r) => {
    const sorted = Array.from(row).sort((a, b) => b - a);
    // Top 1: its probability is the largest, and the reference agrees on its id's probability.
    expect(Math.abs(layer.topProbs[r]! - Math.exp(sorted[0]!))).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(Math.exp(row[layer.topIds[r]!]!) - layer.topProbs[r]!)).toBeLessThanOrEqual(
      1e-5,
    );
    if (options.k !== undefined) {
      const k = options.k;
      const ids = layer.topK!.ids.subarray(r * k, (r + 1) * k);
      const probs = layer.topK!.probs.subarray(r * k, (r + 1) * k);
      expect(ids[0]).toBe(layer.topIds[r]);
      for (let j = 0; j < k; j++) {
        // The j-th largest probability, for an id that has it (ids of near-equal logits may
        // swap between float32 and float64, so ids are compared through their probabilities).
        expect(Math.abs(probs[j]! - Math.exp(sorted[j]!))).toBeLessThanOrEqual(1e-5);
        expect(Math.abs(Math.exp(row[ids[j]!]!) - probs[j]!)).toBeLessThanOrEqual(1e-5);
        if (j > 0) expect(probs[j]!).toBeLessThanOrEqual(probs[j - 1]!);
      }
      expect(new Set(ids).size).toBe(k);
    }
    if (options.chosen !== undefined) {
      const target = options.chosen[r];
      const { logprob, prob, rank } = layer.chosen!;
      if (target === undefined) {
        expect(logprob[r]).toBeNaN();
        expect(prob[r]).toBeNaN();
        expect(rank[r]).toBe(NO_RANK);
      } else {
        expect(Math.abs(logprob[r]! - row[target]!)).toBeLessThanOrEqual(1e-4);
        expect(Math.abs(prob[r]! - Math.exp(row[target]!))).toBeLessThanOrEqual(1e-5);
        const [lo, hi] = rankBounds(row, row[target]!, 1e-5);
        expect(rank[r]).toBeGreaterThanOrEqual(lo);
        expect(rank[r]).toBeLessThanOrEqual(hi);
      }
    }
    if (options.full) {
      const probs = layer.probs!.subarray(r * vocab, (r + 1) * vocab);
      expect(maxAbsDiff(probs, row.map(Math.exp))).toBeLessThanOrEqual(1e-5);
      expect(probs.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 4);
    }
  });
  if (options.k === undefined) expect(layer.topK).toBeUndefined();
  if (options.chosen === undefined) expect(layer.chosen).toBeUndefined();
  if (!options.full) expect(layer.probs).toBeUndefined();
}

const all = (n: number) => Array.from({ length: n }, (_, t) => t);

describe('logitLens against a float64 lens of the cached residual stream', () => {
  it('gives the top k, the next token and the full distribution of every layer and position', async () => {
    const lens = await logitLens(model, ids, { topK: 10, tokens: 'next', full: true });
    const ref = await reference(model, modelHead, ids, all(ids.length));
    expect(lens.map((l) => l.name)).toEqual(NAMES);
    const next = ids.map((_, t) => ids[t + 1]);
    lens.forEach((layer, l) => {
      expect(layer.topK!.ids).toHaveLength(ids.length * 10);
      expect(layer.probs).toHaveLength(ids.length * model.config.vocabSize);
      expectLayer(layer, ref[l]!, { k: 10, chosen: next, full: true });
    });
    // The last position has no next token.
    expect(lens[2]!.chosen!.rank.at(-1)).toBe(NO_RANK);
  });

  it('follows explicit tokens, and the top 64 of Pythia’s 50304-wide vocabulary', async () => {
    const sequence = [12092, 13, 309, 717, 50276, 0];
    const chosen = [13, 50303, 0, 717, 42, 12092];
    const lens = await logitLens(wide, sequence, { topK: 64, tokens: chosen });
    const ref = await reference(wide, wideHead, sequence, all(sequence.length));
    for (const [l, layer] of lens.entries()) expectLayer(layer, ref[l]!, { k: 64, chosen });
    // Ranks are of the whole vocabulary: a token is within the top k exactly when rank < k
    // (up to ties).
    for (const layer of lens) {
      chosen.forEach((id, r) => {
        const inTop = layer.topK!.ids.subarray(r * 64, (r + 1) * 64).includes(id);
        expect(inTop).toBe(layer.chosen!.rank[r]! < 64);
      });
    }
  });

  it('looks only at the positions asked for, in their order, negative ones from the end', async () => {
    const positions = [3, -1, 0, 3];
    const resolved = [3, 5, 0, 3];
    const chosen = [1, 2, 3, 4];
    const lens = await logitLens(model, ids, { positions, topK: 3, tokens: chosen, full: true });
    const ref = await reference(model, modelHead, ids, resolved);
    lens.forEach((layer, l) => {
      expect(layer.topIds).toHaveLength(4);
      expectLayer(layer, ref[l]!, { k: 3, chosen, full: true });
    });
    // With 'next', the chosen token follows the position asked for.
    const next = await logitLens(model, ids, { positions: [-1, 1], tokens: 'next' });
    const nextRef = await reference(model, modelHead, ids, [5, 1]);
    for (const [l, layer] of next.entries()) {
      expectLayer(layer, nextRef[l]!, { chosen: [undefined, ids[2]!] });
    }
    const none = await logitLens(model, ids, { positions: [], topK: 2, tokens: 'next' });
    expect(none.map((l) => [l.topIds.length, l.topK!.ids.length, l.chosen!.rank.length])).toEqual(
      NAMES.map(() => [0, 0, 0]),
    );
  });

  it('ends with the softmax of the model’s own logits', async () => {
    const lens = await logitLens(model, ids, { full: true, topK: 5 });
    const logits = await model.forward(ids);
    const vocab = model.config.vocabSize;
    const own = new Float64Array(logits.length);
    for (let t = 0; t < ids.length; t++) {
      const row = logits.subarray(t * vocab, (t + 1) * vocab);
      const max = Math.max(...row);
      const sum = row.reduce((s, x) => s + Math.exp(x - max), 0);
      row.forEach((x, v) => {
        own[t * vocab + v] = Math.exp(x - max) / sum;
      });
    }
    expect(maxAbsDiff(lens.at(-1)!.probs!, own)).toBeLessThanOrEqual(1e-5);
  });

  it('reads every block of rows: a long sequence over several blocks equals its rows alone', async () => {
    // 50304 f32 logits a row: 333 rows a block, so 340 positions take two blocks.
    const sequence = Array.from({ length: 340 }, (_, t) => (t * 7919 + 11) % 50277);
    const lens = await logitLens(wide, sequence, { topK: 4, tokens: 'next' });
    const positions = [0, 332, 333, 334, 339];
    const ref = await reference(wide, wideHead, sequence, positions);
    lens.forEach((layer, l) => {
      expect(layer.topIds).toHaveLength(340);
      const picked: LensLayer = {
        name: layer.name,
        topIds: positions.map((t) => layer.topIds[t]!),
        topProbs: positions.map((t) => layer.topProbs[t]!),
        topK: {
          ids: Uint32Array.from(
            positions.flatMap((t) => [...layer.topK!.ids.subarray(t * 4, t * 4 + 4)]),
          ),
          probs: Float32Array.from(
            positions.flatMap((t) => [...layer.topK!.probs.subarray(t * 4, t * 4 + 4)]),
          ),
        },
        chosen: {
          logprob: Float32Array.from(positions, (t) => layer.chosen!.logprob[t]!),
          prob: Float32Array.from(positions, (t) => layer.chosen!.prob[t]!),
          rank: Uint32Array.from(positions, (t) => layer.chosen!.rank[t]!),
        },
      };
      expectLayer(picked, ref[l]!, { k: 4, chosen: positions.map((t) => sequence[t + 1]) });
    });
  });
});

describe('logitLens of a batch', () => {
  it('gives each sequence what it gets alone: top k, next token, full distribution', async () => {
    const together = await logitLens(model, batch, { topK: 8, tokens: 'next', full: true });
    expect(together).toHaveLength(batch.length);
    for (const [i, sequence] of batch.entries()) {
      const alone = await logitLens(model, sequence, { topK: 8, tokens: 'next', full: true });
      together[i]!.forEach((layer, l) => {
        const single = alone[l]!;
        expect(layer.name).toBe(single.name);
        expect(layer.topIds).toEqual(single.topIds);
        expect(maxAbsDiff(layer.topProbs, single.topProbs)).toBeLessThanOrEqual(1e-5);
        expect(layer.topK!.ids).toEqual(single.topK!.ids);
        expect(maxAbsDiff(layer.topK!.probs, single.topK!.probs)).toBeLessThanOrEqual(1e-5);
        expect(layer.chosen!.rank).toEqual(single.chosen!.rank);
        // NaN at the last position (no next token) in both.
        const finite = (a: Float32Array) => Array.from(a, (x) => (Number.isNaN(x) ? -1e9 : x));
        expect(
          maxAbsDiff(finite(layer.chosen!.logprob), finite(single.chosen!.logprob)),
        ).toBeLessThanOrEqual(1e-4);
        expect(layer.chosen!.prob.at(-1)).toBeNaN();
        expect(maxAbsDiff(layer.probs!, single.probs!)).toBeLessThanOrEqual(1e-5);
      });
    }
  });

  it('takes positions for every sequence and tokens per sequence', async () => {
    const tokens = [
      [7, 8],
      [9, 10],
      [11, 12],
    ];
    const together = await logitLens(model, batch, { positions: [0, -1], tokens, topK: 2 });
    for (const [i, sequence] of batch.entries()) {
      const alone = await logitLens(model, sequence, {
        positions: [0, -1],
        tokens: tokens[i]!,
        topK: 2,
      });
      const resolved = [0, sequence.length - 1];
      const ref = await reference(model, modelHead, sequence, resolved);
      together[i]!.forEach((layer, l) => {
        expectLayer(layer, ref[l]!, { k: 2, chosen: tokens[i]! });
        expect(layer.topK!.ids).toEqual(alone[l]!.topK!.ids);
      });
    }
  });
});

describe('logitLens refuses what it cannot compute, before running the model', () => {
  it('a topK outside 1 … 64', async () => {
    for (const topK of [0, 65, 2.5, -1]) {
      await expect(logitLens(model, ids, { topK })).rejects.toThrow(ForwardError);
    }
    await expect(logitLens(model, ids, { topK: 65 })).rejects.toThrow(
      /topK must be an integer from 1 to 64, got 65/,
    );
  });

  it('tokens that are not one per position, or not in the vocabulary', async () => {
    await expect(logitLens(model, ids, { tokens: [1, 2, 3] })).rejects.toThrow(InvalidInputError);
    await expect(logitLens(model, ids, { tokens: [1, 2, 3] })).rejects.toThrow(
      /one id per position the lens looks at \(6\), got 3/,
    );
    await expect(logitLens(model, ids, { positions: [0, 1], tokens: [1, 2, 3] })).rejects.toThrow(
      /\(2\), got 3/,
    );
    await expect(logitLens(model, ids, { tokens: [1, 2, 3, 4, 5, 2048] })).rejects.toThrow(
      TokenOutOfVocabularyError,
    );
    await expect(logitLens(model, ids, { tokens: [1, 2, -1, 4, 5, 6] })).rejects.toThrow(
      /token id -1 at position 2 is outside the model's vocabulary of 2048 ids/,
    );
    await expect(logitLens(model, batch, { tokens: [[1]] })).rejects.toThrow(
      /one array of ids per sequence \(3\), got 1/,
    );
    await expect(logitLens(model, batch, { tokens: [ids, [1, 2], batch[2]!] })).rejects.toThrow(
      /tokens\[1\] must hold one id per position the lens looks at \(1\), got 2/,
    );
  });

  it('positions outside a sequence', async () => {
    await expect(logitLens(model, ids, { positions: [6] })).rejects.toThrow(
      /positions\[0\] = 6 is not a position of the 6 tokens; give integers from -6 to 5/,
    );
    await expect(logitLens(model, batch, { positions: [0, -2] })).rejects.toThrow(
      /positions\[1\] = -2 is not a position of sequence 1, of 1 tokens/,
    );
  });
});
