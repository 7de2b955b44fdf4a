// Quantized weights (`dtype: 'q8' | 'q4'`), on every tiny fixture:
// - the quantized pass is checked exactly, apart from the quantization error: its logits equal a
//   float64 reference (test/reference-forward.ts) fed the dequantized matrices (tensor-core's
//   `quantizeReference`), within 1e-4;
// - the quantization error itself is measured against the float64 golden of the checkpoint's own
//   weights (max |Δlogit|, KL of the next-token distribution, top-1 agreement, greedy tokens);
// - hooks, edits, parameters, logit lens, attribution and scores work on a quantized model;
// - the loader streams: every matrix reaches `writeRows` a piece of whole rows at a time, as a
//   view of the one staging buffer (or, for BF16, of one reused piece buffer);
// - estimateMemory counts the quantized bytes, and a width that is not a multiple of 32 is refused.
import { type Checkpoint, openCheckpoint, tensorData, tensorRange } from '@pythiajs/checkpoint-hub';
import { LocalFolderStore } from '@pythiajs/checkpoint-hub/node';
import {
  createDevice,
  type Device,
  dequantize,
  f16BitsToF32Array,
  QuantizedTensor,
} from '@pythiajs/tensor-core';
import { quantizeReference } from '@pythiajs/tensor-core/reference';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  checkpointConfig,
  directLogitAttribution,
  estimateMemory,
  generate,
  hookNames,
  logitLens,
  NeoXModel,
  NonFiniteWeightsError,
  parameterNames,
  parseNeoXConfig,
  pythiaConfig,
  randomCheckpoint,
  readParameter,
  runWithCache,
  runWithHooks,
  scoreTokens,
  UnsupportedWeightsError,
} from '../src/index.js';
import { disposeWeights, uploadWeights } from '../src/weights.js';
import {
  argmax,
  FIXTURES,
  fixtureFolder,
  golden,
  logSoftmaxAt,
  maxAbsDiff,
  TIED_CONFIG,
} from './golden.js';
import { ReferenceNeoX } from './reference-forward.js';

const FORMATS = ['q8', 'q4'] as const;
type Format = (typeof FORMATS)[number];
/** The quantized pass against the float64 reference with the same dequantized weights. */
const TOL = 1e-4;

let device: Device;
beforeAll(async () => {
  device = await createDevice();
});
afterAll(() => device?.destroy());

/** A checkpoint tensor's values as f32 (F16 and BF16 widened exactly). */
async function tensorF32(checkpoint: Checkpoint, name: string): Promise<Float32Array> {
  const entry = checkpoint.tensors.get(name)!;
  const data = tensorData(entry.dtype, await checkpoint.read(name));
  if (entry.dtype === 'F16') return f16BitsToF32Array(data as Uint16Array);
  if (entry.dtype === 'F32') return Float32Array.from(data as Float32Array);
  throw new Error(`${name} is ${entry.dtype}`);
}

function dequantized(values: Float32Array, shape: [number, number], format: Format) {
  return quantizeReference(values, shape, format).dequantized;
}

/** log-softmax of a row, float64. */
function logSoftmax(row: ArrayLike<number>): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  const out = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i]! - max - Math.log(sum);
  return out;
}

/** KL(p ‖ q) of the softmaxes of two logit rows, in nats. */
function kl(p: ArrayLike<number>, q: ArrayLike<number>): number {
  const lp = logSoftmax(p);
  const lq = logSoftmax(q);
  let s = 0;
  for (let i = 0; i < lp.length; i++) s += Math.exp(lp[i]!) * (lp[i]! - lq[i]!);
  return s;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** What the fidelity tests measured, printed once at the end (the README's numbers). */
const measured: string[] = [];
const greedyChecked: string[] = [];
afterAll(() => {
  if (measured.length) console.log(`quantization error vs the f32 golden:\n${measured.join('\n')}`);
  if (greedyChecked.length) console.log(`q8 greedy steps checked: ${greedyChecked.join(', ')}`);
});

/**
 * How many of `greedy`'s steps (the checkpoint's own greedy continuation of `ids`) are decided by
 * a margin above `margin`: the steps before the first whose two best logits, in `plain`, are
 * closer than that. A pass whose logits are within margin/2 of `plain`'s picks the same tokens.
 */
function safeSteps(plain: ReferenceNeoX, ids: number[], greedy: number[], margin: number): number {
  const sequence = [...ids];
  for (const [s, token] of greedy.entries()) {
    const row = plain.run(sequence, {}, { logits: 'last' }).logits;
    let best = Number.NEGATIVE_INFINITY;
    let second = Number.NEGATIVE_INFINITY;
    for (const v of row) {
      if (v > best) [best, second] = [v, best];
      else if (v > second) second = v;
    }
    if (best - second <= margin) return s;
    sequence.push(token);
  }
  return greedy.length;
}

for (const fixture of FIXTURES) {
  for (const format of FORMATS) {
    describe(`${fixture} at ${format}`, () => {
      let model: NeoXModel;
      let ref: ReferenceNeoX;
      /** The float64 pass with the checkpoint's own weights. */
      let plain: ReferenceNeoX;
      let fullMatches = 0;
      const cases = golden(fixture);
      beforeAll(async () => {
        const folder = fixtureFolder(fixture);
        plain = await ReferenceNeoX.load(folder);
        model = await NeoXModel.load({ folder }, { device, dtype: format });
        ref = await ReferenceNeoX.load(folder, {
          matrices: (_, values, shape) => dequantized(values, shape, format),
        });
      });
      afterAll(() => model?.dispose());

      it('says so, and holds the quantized bytes estimateMemory counts', () => {
        expect(model.dtype).toBe(format);
        expect(model.weights.layers[0]!.qkvWeight).toBeInstanceOf(QuantizedTensor);
        expect(model.weights.embedOut).toBeInstanceOf(QuantizedTensor);
        expect((model.weights.embedOut as QuantizedTensor).format).toBe(format);
        // embed_in stays the checkpoint's own dtype.
        const own = fixture === 'tiny-neox-f32-sharded' ? 'f32' : 'f16';
        expect(model.weights.embedIn.dtype).toBe(own);
        const estimate = estimateMemory(model.config, { dtype: format, embedDtype: own });
        expect(model.weights.bytes).toBe(estimate.weights);
      });

      it('gives the logits of the float64 reference with the dequantized weights', async () => {
        for (const c of cases) {
          const logits = await model.forward(c.ids);
          const want = ref.run(c.ids).logits;
          expect(maxAbsDiff(logits, want)).toBeLessThanOrEqual(TOL * Math.max(1, maxAbs(want)));
        }
      });

      it('stays near the f32 golden (quantization error measured)', async () => {
        const vocab = model.config.vocabSize;
        let worst = 0;
        let sumAbs = 0;
        let count = 0;
        let klMax = 0;
        let agree = 0;
        let positions = 0;
        let scale = 0;
        for (const c of cases) {
          const logits = await model.forward(c.ids);
          const T = c.ids.length;
          const last = logits.subarray((T - 1) * vocab);
          worst = Math.max(worst, maxAbsDiff(last, c.logits_last));
          for (let i = 0; i < vocab; i++) sumAbs += Math.abs(last[i]! - c.logits_last[i]!);
          count += vocab;
          scale = Math.max(scale, maxAbs(c.logits_last));
          klMax = Math.max(klMax, kl(c.logits_last, last));
          for (let t = 0; t < T; t++) {
            positions++;
            if (argmax(logits.subarray(t * vocab, (t + 1) * vocab)) === c.top5[t]![0]) agree++;
          }
        }
        const meanAbs = sumAbs / count;
        measured.push(
          `${fixture} ${format}: max |Δlogit| ${worst.toExponential(2)} (max |logit| ${scale.toFixed(2)}), ` +
            `mean |Δ| ${meanAbs.toExponential(2)}, max KL ${klMax.toExponential(2)} nats, ` +
            `top-1 ${agree}/${positions}`,
        );
        // Bounds about 1.5× what was measured (the log above; the README's table).
        const bounds = BOUNDS[format];
        expect(worst).toBeLessThanOrEqual(bounds.maxAbs);
        expect(meanAbs).toBeLessThanOrEqual(bounds.meanAbs);
        expect(klMax).toBeLessThanOrEqual(bounds.kl);
        expect(agree / positions).toBeGreaterThanOrEqual(bounds.top1);
      });

      it('generates greedily, through the KV cache, the reference’s tokens', async () => {
        for (const c of cases) {
          const tokens: number[] = [];
          for await (const t of generate(model, {
            ids: c.ids,
            temperature: 0,
            maxNewTokens: 8,
            eosTokenId: null,
          })) {
            tokens.push(t.id);
          }
          // The reference with the dequantized weights, recomputing the whole sequence per step.
          const ids = [...c.ids];
          for (let s = 0; s < 8; s++) ids.push(argmax(ref.run(ids, {}, { logits: 'last' }).logits));
          expect(tokens).toEqual(ids.slice(c.ids.length));
          if (format === 'q8') {
            // The f32 golden's tokens, at every step up to the first whose top-2 margin (in the
            // float64 pass with the checkpoint's weights) is within twice the q8 logit error.
            const steps = safeSteps(plain, c.ids, c.greedy, 2 * BOUNDS.q8.maxAbs);
            let same = 0;
            while (same < tokens.length && tokens[same] === c.greedy[same]) same++;
            greedyChecked.push(`${fixture}: ${steps} safe, ${same} equal`);
            expect(tokens.slice(0, steps)).toEqual(c.greedy.slice(0, steps));
            if (same === c.greedy.length) fullMatches++;
          }
        }
        // Random weights leave most steps a margin below 0.4 (vocabularies of 2048 and 50304
        // ids): measured, q8 still gives all 8 golden tokens in 3 of tiny-neox-f16's 5 cases
        // (one differs from step 0, one from step 5, both below the margin) and in every case of
        // the other two fixtures.
        if (format === 'q8') {
          expect(fullMatches).toBe(fixture === 'tiny-neox-f16' ? 3 : cases.length);
        }
      });
    });
  }
}

/**
 * Measured on these fixtures (random weights, max |logit| 8.5–12; the afterAll log), worst over
 * the three: q8 max |Δlogit| 0.13, mean |Δ| 0.026, KL 5.8e-4 nats, top-1 agreement 0.98; q4 2.3,
 * 0.44, 0.17 nats, 0.73. The bounds are about 1.5× those.
 */
const BOUNDS: Record<Format, { maxAbs: number; meanAbs: number; kl: number; top1: number }> = {
  q8: { maxAbs: 0.2, meanAbs: 0.04, kl: 1e-3, top1: 0.95 },
  q4: { maxAbs: 3.5, meanAbs: 0.7, kl: 0.3, top1: 0.7 },
};

describe('hooks and interpretability on a quantized model', () => {
  const fixture = 'tiny-neox-f32-sharded';
  const ids = [5, 99, 1024, 7, 300, 12];
  let q: NeoXModel;
  let full: NeoXModel;
  let ref: ReferenceNeoX;
  const format: Format = 'q4';
  beforeAll(async () => {
    const folder = fixtureFolder(fixture);
    q = await NeoXModel.load({ folder }, { device, dtype: format });
    full = await NeoXModel.load({ folder }, { device, dtype: 'f32' });
    ref = await ReferenceNeoX.load(folder, {
      matrices: (_, values, shape) => dequantized(values, shape, format),
    });
  });
  afterAll(() => {
    q?.dispose();
    full?.dispose();
  });

  it('runWithCache gives every hook point, shaped as in f32, valued as the reference', async () => {
    const names = hookNames(q.config.numLayers, q.config.parallelResidual);
    const { logits, cache } = await runWithCache(q, ids, { names });
    const f32 = await runWithCache(full, ids, { names });
    const want = ref.run(ids);
    expect(maxAbsDiff(logits, want.logits)).toBeLessThanOrEqual(TOL);
    const wrong: string[] = [];
    for (const name of names) {
      const got = cache.get(name);
      if (got?.shape.join() !== f32.cache.get(name)?.shape.join()) wrong.push(`${name}: shape`);
      const r = want.cache.get(name)!;
      if (maxAbsDiff(got!.data, r.data) > TOL * Math.max(1, maxAbs(r.data.filter(Number.isFinite))))
        wrong.push(`${name}: ${maxAbsDiff(got!.data, r.data)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('a steering vector and a head ablation at hook_result change the logits as in the reference', async () => {
    const d = q.config.hiddenSize;
    const steer = Array.from({ length: d }, (_, i) => 0.5 * Math.sin(i + 1));
    const plain = await q.forward(ids);
    const steered = await runWithHooks(q, ids, {
      'blocks.1.hook_resid_post': (a) => a.add(steer, { pos: 2 }),
      // hook_result runs the per-head projection on the dequantized dense matrix.
      'blocks.0.attn.hook_result': (a) => a.zero({ head: 1 }),
    });
    const want = ref.run(ids, {
      'blocks.1.hook_resid_post': (a) => {
        for (let i = 0; i < d; i++) a.data[2 * d + i]! += steer[i]!;
        return undefined;
      },
      'blocks.0.attn.hook_result': (a) => {
        const [T, H, D] = a.shape as [number, number, number];
        for (let t = 0; t < T; t++) a.data.fill(0, (t * H + 1) * D, (t * H + 2) * D);
        return undefined;
      },
    });
    expect(maxAbsDiff(steered, want.logits)).toBeLessThanOrEqual(TOL);
    expect(maxAbsDiff(steered, plain)).toBeGreaterThan(1e-2);
    // And as in f32, within the quantization error.
    const f32 = await runWithHooks(full, ids, {
      'blocks.1.hook_resid_post': (a) => a.add(steer, { pos: 2 }),
      'blocks.0.attn.hook_result': (a) => a.zero({ head: 1 }),
    });
    expect(maxAbsDiff(steered, f32)).toBeLessThanOrEqual(BOUNDS[format].maxAbs);
  });

  it('readParameter gives the dequantized matrices exactly, and the checkpoint’s vectors and W_E', async () => {
    const checkpoint = await openCheckpoint(
      fixtureFolder(fixture),
      'local',
      new LocalFolderStore(),
    );
    try {
      const { hiddenSize: d, numHeads: H, intermediateSize: m, vocabSize: v } = q.config;
      const dh = d / H;
      const deq = async (name: string, shape: [number, number]) =>
        dequantized(await tensorF32(checkpoint, name), shape, format);
      const transpose = (a: Float32Array, rows: number, cols: number) => {
        const out = new Float32Array(a.length);
        for (let r = 0; r < rows; r++)
          for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
        return out;
      };
      const p = 'gpt_neox.layers.1';
      expect((await readParameter(q, 'unembed.W_U')).data).toEqual(
        transpose(await deq('embed_out.weight', [v, d]), v, d),
      );
      expect((await readParameter(q, 'blocks.1.mlp.W_in')).data).toEqual(
        transpose(await deq(`${p}.mlp.dense_h_to_4h.weight`, [m, d]), m, d),
      );
      expect((await readParameter(q, 'blocks.1.mlp.W_out')).data).toEqual(
        transpose(await deq(`${p}.mlp.dense_4h_to_h.weight`, [d, m]), d, m),
      );
      const qkv = await deq(`${p}.attention.query_key_value.weight`, [3 * d, d]);
      const wk = (await readParameter(q, 'blocks.1.attn.W_K')).data; // [H, d, dh]
      const dense = await deq(`${p}.attention.dense.weight`, [d, d]);
      const wo = (await readParameter(q, 'blocks.1.attn.W_O')).data; // [H, dh, d]
      for (let h = 0; h < H; h++) {
        for (let e = 0; e < dh; e++) {
          for (let i = 0; i < d; i++) {
            expect(wk[(h * d + i) * dh + e]).toBe(qkv[((h * 3 + 1) * dh + e) * d + i]);
            expect(wo[(h * dh + e) * d + i]).toBe(dense[i * d + h * dh + e]);
          }
        }
      }
      // Unquantized: embed_in and the vectors are the checkpoint's own.
      expect((await readParameter(q, 'embed.W_E')).data).toEqual(
        await tensorF32(checkpoint, 'gpt_neox.embed_in.weight'),
      );
      expect((await readParameter(q, 'blocks.1.mlp.b_in')).data).toEqual(
        await tensorF32(checkpoint, `${p}.mlp.dense_h_to_4h.bias`),
      );
      expect(parameterNames(q)).toEqual(parameterNames(full));
    } finally {
      await checkpoint.close();
    }
  });

  it('logit lens, direct logit attribution and scoreTokens use the quantized unembedding', async () => {
    const vocab = q.config.vocabSize;
    const logits = await q.forward(ids);
    const T = ids.length;
    // The lens' last layer is the model's own prediction.
    const lens = await logitLens(q, ids, { full: true, tokens: 'next' });
    const probs = lens.at(-1)!.probs!;
    for (let t = 0; t < T; t++) {
      const row = logSoftmax(logits.subarray(t * vocab, (t + 1) * vocab)).map(Math.exp);
      expect(maxAbsDiff(probs.subarray(t * vocab, (t + 1) * vocab), row)).toBeLessThanOrEqual(1e-5);
    }
    // Attribution gathers W_U rows dequantized: its parts sum to the run's logit.
    const target = argmax(logits.subarray((T - 1) * vocab));
    const dla = await directLogitAttribution(q, ids, { tokens: target, by: 'head' });
    expect(Math.abs(dla.logit - logits[(T - 1) * vocab + target]!)).toBeLessThanOrEqual(1e-4);
    const sum = dla.values.reduce((a, b) => a + b, 0) + dla.bias;
    expect(Math.abs(sum - dla.logit)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(dla.logit)));
    // scoreTokens reduces the quantized logits on the GPU.
    const [scores] = await scoreTokens(q, [ids]);
    for (let t = 0; t + 1 < T; t++) {
      const want = logSoftmaxAt(logits.subarray(t * vocab, (t + 1) * vocab), ids[t + 1]!);
      expect(Math.abs(scores!.logprob[t]! - want)).toBeLessThanOrEqual(1e-5);
    }
  });
});

describe('quantized matrices beyond the binding limit, and tied embeddings', () => {
  it('a 64 KiB binding limit splits the matrices and readParameter reads them in blocks, with the same numbers', async () => {
    // embed_out [2048, 96] in q8 is 204 KiB: split into row chunks, read back 170 rows at a time.
    const small = await createDevice({ maxBindingBytes: 65536 });
    const folder = fixtureFolder('tiny-neox-f32-sharded');
    const constrained = await NeoXModel.load({ folder }, { device: small, dtype: 'q8' });
    const model = await NeoXModel.load({ folder }, { device, dtype: 'q8' });
    try {
      expect((constrained.weights.embedOut as QuantizedTensor).chunks.length).toBeGreaterThan(1);
      const ids = [5, 99, 1024, 7, 300, 12];
      expect(
        maxAbsDiff(await constrained.forward(ids), await model.forward(ids)),
      ).toBeLessThanOrEqual(1e-5);
      for (const name of ['unembed.W_U', 'blocks.2.mlp.W_in', 'blocks.0.attn.W_V']) {
        expect((await readParameter(constrained, name)).data).toEqual(
          (await readParameter(model, name)).data,
        );
      }
    } finally {
      constrained.dispose();
      model.dispose();
      small.destroy();
    }
  });

  it('tied embeddings: embed_in stays f16 and embed_out is its quantized copy', async () => {
    const config = parseNeoXConfig(TIED_CONFIG);
    const checkpoint = randomCheckpoint(config, { seed: 3 });
    const model = await NeoXModel.fromCheckpoint(checkpoint, { device, dtype: 'q4' });
    try {
      expect(model.weights.embedIn.dtype).toBe('f16');
      expect(model.weights.embedOut).toBeInstanceOf(QuantizedTensor);
      const table = await tensorF32(checkpoint, 'gpt_neox.embed_in.weight');
      expect((await readParameter(model, 'embed.W_E')).data).toEqual(table);
      const wu = (await readParameter(model, 'unembed.W_U')).data; // [d, vocab]
      const deq = dequantized(table, [256, 64], 'q4');
      for (let t = 0; t < 256; t++)
        for (let i = 0; i < 64; i++) expect(wu[i * 256 + t]).toBe(deq[t * 64 + i]);
      expect(model.weights.bytes).toBe(estimateMemory(config, { dtype: 'q4' }).weights);
    } finally {
      model.dispose();
    }
  });
});

/** A one-layer model of 64 × 256 matrices: several 4 KiB pieces each. */
const smallConfig = () =>
  parseNeoXConfig({
    hidden_size: 64,
    num_attention_heads: 4,
    num_hidden_layers: 1,
    intermediate_size: 256,
    vocab_size: 128,
    rotary_pct: 0.25,
    max_position_embeddings: 64,
  });

describe('streaming: a matrix is quantized a piece of rows at a time', () => {
  afterEach(() => vi.restoreAllMocks());

  /** Every writeRows call: its tensor's shape, first row, row count and the data it was given. */
  function spyWrites() {
    const calls: {
      shape: readonly [number, number];
      firstRow: number;
      rows: number;
      data: Float32Array | Uint16Array;
    }[] = [];
    const original = QuantizedTensor.prototype.writeRows;
    vi.spyOn(QuantizedTensor.prototype, 'writeRows').mockImplementation(function (
      this: QuantizedTensor,
      firstRow: number,
      data: Float32Array | Uint16Array,
    ) {
      calls.push({ shape: this.shape, firstRow, rows: data.length / this.shape[1], data });
      return original.call(this, firstRow, data);
    });
    return calls;
  }

  /** The pieces of each matrix cover its rows once, in order, each within `pieceBytes`. */
  function expectPieces(calls: ReturnType<typeof spyWrites>, pieceBytes: number, matrices: number) {
    let matrixCount = 0;
    let next = 0;
    for (const call of calls) {
      const [n, k] = call.shape;
      if (call.firstRow === 0) {
        expect(next).toBe(0);
        matrixCount++;
      }
      expect(call.firstRow).toBe(next);
      expect(Number.isInteger(call.rows)).toBe(true);
      expect(call.rows * k * 4).toBeLessThanOrEqual(Math.max(pieceBytes, 4 * k));
      next = call.firstRow + call.rows === n ? 0 : call.firstRow + call.rows;
    }
    expect(next).toBe(0);
    expect(matrixCount).toBe(matrices);
  }

  it('F16 and F32 pieces are views of the one staging buffer; the model is the same', async () => {
    for (const fixture of ['tiny-neox-bin', 'tiny-neox-f32-sharded'] as const) {
      const checkpoint = await openCheckpoint(
        fixtureFolder(fixture),
        'local',
        new LocalFolderStore(),
      );
      try {
        const config = checkpointConfig(checkpoint);
        const reads: (Uint8Array | undefined)[] = [];
        const lengths: number[] = [];
        const read = checkpoint.read.bind(checkpoint);
        checkpoint.read = async (name, into, range) => {
          reads.push(into);
          const bytes = await read(name, into, range);
          lengths.push(bytes.length);
          return bytes;
        };
        const calls = spyWrites();
        const pieceBytes = 8192;
        const weights = await uploadWeights(checkpoint, config, device, {
          dtype: 'q8',
          pieceBytes,
        });
        // One staging buffer for every read, holding a piece or a vector: never a whole matrix.
        const entries = [...checkpoint.tensors.values()];
        const largest = Math.max(...entries.map((e) => e.byteLength));
        const vector = Math.max(
          ...entries.filter((e) => e.shape.length === 1).map((e) => e.byteLength),
        );
        expect(new Set(reads).size).toBe(1);
        expect(reads[0]!.byteLength).toBeLessThanOrEqual(Math.max(pieceBytes, vector));
        expect(reads[0]!.byteLength).toBeLessThan(largest);
        expect(Math.max(...lengths)).toBeLessThanOrEqual(Math.max(pieceBytes, vector));
        // 4 matrices per layer and embed_out, each in pieces of at most 8 KiB as f32 …
        expectPieces(calls, pieceBytes, 4 * config.numLayers + 1);
        expect(calls.length).toBeGreaterThan(4 * config.numLayers + 1);
        // … handed over as views of that buffer: nothing converted, nothing copied.
        for (const call of calls) expect(call.data.buffer).toBe(reads[0]!.buffer);
        // Pieces quantize as the whole matrix does (blocks never straddle rows).
        const whole = await NeoXModel.fromCheckpoint(checkpoint, { device, dtype: 'q8' });
        for (const [l, layer] of weights.layers.entries()) {
          const a = dequantize(layer.downWeight as QuantizedTensor);
          const b = dequantize(whole.weights.layers[l]!.downWeight as QuantizedTensor);
          expect(await a.read()).toEqual(await b.read());
          a.dispose();
          b.dispose();
        }
        whole.dispose();
        disposeWeights(weights);
      } finally {
        await checkpoint.close();
      }
    }
  });

  it('a BF16 checkpoint is widened one piece at a time into one reused buffer', async () => {
    // tiny-neox-f32-sharded with every tensor cut to BF16 as it is read.
    const source = await openCheckpoint(
      fixtureFolder('tiny-neox-f32-sharded'),
      'local',
      new LocalFolderStore(),
    );
    try {
      const tensors = new Map(
        [...source.tensors].map(([name, e]) => [
          name,
          { ...e, dtype: 'BF16' as const, byteLength: e.byteLength / 2 },
        ]),
      );
      const bf16: Checkpoint = {
        ...source,
        tensors,
        read: async (name, into, range) => {
          const f32 = new Uint32Array(Float32Array.from(await tensorF32(source, name)).buffer);
          const bits = new Uint16Array(f32.length);
          for (let i = 0; i < f32.length; i++) bits[i] = f32[i]! >>> 16;
          const { offset, length } = tensorRange(name, bits.byteLength, range);
          const view = new Uint8Array(bits.buffer, offset, length);
          const out = into ?? new Uint8Array(length);
          out.set(view);
          return out.subarray(0, length);
        },
        expect: (name, shape) => {
          source.expect(name, shape);
          return tensors.get(name)!;
        },
      };
      const calls = spyWrites();
      const model = await NeoXModel.fromCheckpoint(bf16, { device, dtype: 'q8' });
      try {
        const config = model.config;
        // Default pieces (4 MiB) hold these matrices whole: one call each, f32, one buffer.
        expectPieces(calls, 4 * 2 ** 20, 4 * config.numLayers + 1);
        expect(calls.every((c) => c.data instanceof Float32Array)).toBe(true);
        expect(new Set(calls.map((c) => c.data.buffer)).size).toBe(1);
        // embed_in of a BF16 checkpoint stays in f32 (its own dtype as the loader reads it).
        expect(model.weights.embedIn.dtype).toBe('f32');
        // bf16 rounding and q8 together stay near the f32 checkpoint's q8 logits.
        const f32 = await NeoXModel.load(
          { folder: fixtureFolder('tiny-neox-f32-sharded') },
          { device, dtype: 'q8' },
        );
        const ids = [5, 99, 1024, 7];
        const a = await model.forward(ids);
        const b = await f32.forward(ids);
        f32.dispose();
        expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(5e-2 * Math.max(1, maxAbs(b)));
      } finally {
        model.dispose();
      }
    } finally {
      await source.close();
    }
  });
});

describe('estimateMemory of quantized models', () => {
  it('counts QuantizedTensor.bytesPerWeight for the block matrices and embed_out', () => {
    expect(QuantizedTensor.bytesPerWeight('q8')).toBe(34 / 32);
    expect(QuantizedTensor.bytesPerWeight('q4')).toBe(18 / 32);
    const config = pythiaConfig('pythia-12b');
    const { hiddenSize: h, intermediateSize: i, vocabSize: v, numLayers: L } = config;
    expect([h, i, v, L]).toEqual([5120, 20480, 50688, 36]);
    const blocks = L * (4 * h * h + 2 * i * h); // 11,324,620,800
    const vectors = L * (9 * h + i) + 2 * h;
    const embedIn = v * h * 2; // f16
    const q4 = estimateMemory(config, { dtype: 'q4' }).weights;
    const q8 = estimateMemory(config, { dtype: 'q8' }).weights;
    const f16 = estimateMemory(config, { dtype: 'f16' }).weights;
    expect(q4).toBe(embedIn + ((v * h + blocks) * 18) / 32 + vectors * 4);
    expect(q8).toBe(embedIn + ((v * h + blocks) * 34) / 32 + vectors * 4);
    expect(f16).toBe((2 * v * h + blocks) * 2 + vectors * 4);
    // About 7.0 GB, 12.8 GB and 23.7 GB.
    expect(q4).toBe(7_044_751_360);
    expect(q8).toBe(12_836_823_040);
    expect(f16).toBe(23_696_957_440);
    // embed_in of an f32 checkpoint stays f32.
    expect(estimateMemory(config, { dtype: 'q4', embedDtype: 'f32' }).weights).toBe(q4 + v * h * 2);
  });
});

describe('errors', () => {
  it('refuses to quantize a matrix whose rows are not a multiple of 32, naming it', async () => {
    const narrow = randomCheckpoint(
      parseNeoXConfig({
        hidden_size: 48,
        num_attention_heads: 3,
        num_hidden_layers: 1,
        intermediate_size: 192,
        vocab_size: 128,
        rotary_pct: 0.25,
        max_position_embeddings: 64,
      }),
    );
    const error = await NeoXModel.fromCheckpoint(narrow, { device, dtype: 'q4' }).catch((e) => e);
    expect(error).toBeInstanceOf(UnsupportedWeightsError);
    expect(error.message).toMatch(
      /gpt_neox\.layers\.0\.attention\.query_key_value\.weight.*48 weights.*multiple of 32.*dtype: 'f16' or 'f32'/,
    );
    const mlp = randomCheckpoint(
      parseNeoXConfig({
        hidden_size: 64,
        num_attention_heads: 4,
        num_hidden_layers: 1,
        intermediate_size: 80,
        vocab_size: 128,
        rotary_pct: 0.25,
        max_position_embeddings: 64,
      }),
    );
    const second = await NeoXModel.fromCheckpoint(mlp, { device, dtype: 'q8' }).catch((e) => e);
    expect(second).toBeInstanceOf(UnsupportedWeightsError);
    expect(second.message).toMatch(/gpt_neox\.layers\.0\.mlp\.dense_4h_to_h\.weight.*80 weights/);
    // The same checkpoint loads in f16.
    (await NeoXModel.fromCheckpoint(mlp, { device, dtype: 'f16' })).dispose();
  });

  it('an unquantized model is read in pieces too: the same matrices as read whole', async () => {
    const checkpoint = await openCheckpoint(
      fixtureFolder('tiny-neox-bin'),
      'local',
      new LocalFolderStore(),
    );
    try {
      const config = checkpointConfig(checkpoint);
      const lengths: number[] = [];
      const read = checkpoint.read.bind(checkpoint);
      checkpoint.read = async (name, into, range) => {
        const bytes = await read(name, into, range);
        lengths.push(bytes.length);
        return bytes;
      };
      const pieceBytes = 1024;
      const pieces = await uploadWeights(checkpoint, config, device, { dtype: 'f16', pieceBytes });
      const vector = Math.max(
        ...[...checkpoint.tensors.values()]
          .filter((e) => e.shape.length === 1)
          .map((e) => e.byteLength),
      );
      expect(Math.max(...lengths)).toBeLessThanOrEqual(Math.max(pieceBytes, vector));
      const whole = await uploadWeights(checkpoint, config, device, { dtype: 'f16' });
      const matrices = (w: typeof whole) => [
        w.embedIn,
        w.embedOut,
        ...w.layers.flatMap((l) => [l.qkvWeight, l.denseWeight, l.upWeight, l.downWeight]),
      ];
      const a = matrices(pieces);
      const b = matrices(whole);
      for (const [i, t] of a.entries()) {
        expect(await (t as { read(): Promise<Uint16Array> }).read()).toEqual(
          await (b[i] as { read(): Promise<Uint16Array> }).read(),
        );
      }
      disposeWeights(pieces);
      disposeWeights(whole);
    } finally {
      await checkpoint.close();
    }
  });

  it('refuses a checkpoint whose reader ignores the range it is asked for', async () => {
    const config = smallConfig();
    const checkpoint = randomCheckpoint(config, { dtype: 'F32' });
    const read = checkpoint.read;
    // Hands over the whole tensor whatever part of it is asked for.
    checkpoint.read = (name) => read(name);
    await expect(
      uploadWeights(checkpoint, config, device, { dtype: 'q8', pieceBytes: 4096 }),
    ).rejects.toThrow(
      /gave \d+ bytes; the checkpoint's reader must honour read\(name, into, range\)/,
    );
  });

  it('names the first non-finite weight of a matrix scanned piece by piece', async () => {
    const config = smallConfig();
    const checkpoint = randomCheckpoint(config, { dtype: 'F32' });
    const name = 'gpt_neox.layers.0.mlp.dense_h_to_4h.weight';
    const bad = 200 * 64 + 5; // row 200 of 256: past the first piece of 4 KiB (16 rows)
    const read = checkpoint.read;
    checkpoint.read = async (n, into, range) => {
      const whole = (await read(n)).slice();
      if (n === name) {
        const f = new Float32Array(whole.buffer, whole.byteOffset, whole.byteLength / 4);
        f[bad] = Number.NaN;
        f[bad + 70] = Number.POSITIVE_INFINITY;
      }
      const { offset, length } = tensorRange(n, whole.byteLength, range);
      const out = into ?? new Uint8Array(length);
      out.set(whole.subarray(offset, offset + length));
      return out.subarray(0, length);
    };
    const error = await uploadWeights(checkpoint, config, device, {
      dtype: 'q4',
      pieceBytes: 4096,
    }).catch((e) => e);
    expect(error).toBeInstanceOf(NonFiniteWeightsError);
    expect(error).toMatchObject({ tensor: name, index: bad, count: 2, position: [200, 5] });
  });
});
