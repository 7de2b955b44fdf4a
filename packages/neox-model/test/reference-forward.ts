// A float64 CPU GPT-NeoX forward pass with Hugging Face `GPTNeoXForCausalLM` semantics and the
// TransformerLens hook points, written from the math, to test the GPU pass against. It shares
// nothing with src/ but the checkpoint reader: its own config parsing, weight layout, rotary,
// softmax, GELU and hook bookkeeping. One sequence at a time, no KV cache: a run recomputes
// every position.
//
// Hook points and shapes (no batch axis):
//   hook_embed                                  [pos, d_model]
//   blocks.{l}.hook_resid_pre                   [pos, d_model]
//   blocks.{l}.ln1.hook_scale                   [pos, 1]      √(var(x) + eps)
//   blocks.{l}.ln1.hook_normalized              [pos, d_model] (x − mean) / scale · w + b
//   blocks.{l}.attn.hook_q/k/v                  [pos, head, d_head]
//   blocks.{l}.attn.hook_rot_q/rot_k            [pos, head, d_head]
//   blocks.{l}.attn.hook_attn_scores            [head, dest, src]  −∞ for src > dest
//   blocks.{l}.attn.hook_pattern                [head, dest, src]
//   blocks.{l}.attn.hook_z                      [pos, head, d_head]
//   blocks.{l}.attn.hook_result                 [pos, head, d_model]  (no dense bias)
//   blocks.{l}.hook_attn_out                    [pos, d_model]  Σ_h result + dense bias
//   blocks.{l}.hook_resid_mid                   [pos, d_model]  (sequential residual only)
//   blocks.{l}.ln2.hook_scale / hook_normalized
//   blocks.{l}.mlp.hook_pre / hook_post         [pos, d_mlp]
//   blocks.{l}.hook_mlp_out                     [pos, d_model]
//   blocks.{l}.hook_resid_post                  [pos, d_model]
//   ln_final.hook_scale / hook_normalized
// A hook may change its activation in place or return a replacement of the same shape; either
// way, what it leaves is what every later step uses (a replaced hook_scale is what the LayerNorm
// divides by).
import { readFileSync } from 'node:fs';
import { type Checkpoint, openCheckpoint, tensorData } from '@pythiajs/checkpoint-hub';
import { LocalFolderStore } from '@pythiajs/checkpoint-hub/node';
import { f16BitsToF32Array } from '@pythiajs/tensor-core';

/** An activation of the reference: float64, row-major. */
export interface RefActivation {
  data: Float64Array;
  shape: number[];
}

/** Changes `a` in place, or returns its replacement (same shape). */
export type RefHook = (a: RefActivation) => RefActivation | undefined;

export interface RefConfig {
  vocab: number;
  dModel: number;
  heads: number;
  dHead: number;
  layers: number;
  dMlp: number;
  eps: number;
  rotaryDims: number;
  rotaryBase: number;
  parallelResidual: boolean;
  hiddenAct: string;
}

interface RefLayer {
  ln1W: Float64Array;
  ln1B: Float64Array;
  ln2W: Float64Array;
  ln2B: Float64Array;
  /** [3·d_model, d_model]: output rows per head, [q(d_head), k(d_head), v(d_head)] each. */
  qkvW: Float64Array;
  qkvB: Float64Array;
  /** [d_model, d_model] (out, in). */
  denseW: Float64Array;
  denseB: Float64Array;
  /** [d_mlp, d_model]. */
  upW: Float64Array;
  upB: Float64Array;
  /** [d_model, d_mlp]. */
  downW: Float64Array;
  downB: Float64Array;
}

export interface RefRun {
  /** [pos, vocab], or [vocab] of the last position. */
  logits: Float64Array;
  /** Every hook point's activation, as the rest of the pass used it (after its hook). */
  cache: Map<string, RefActivation>;
}

function parseConfig(raw: Record<string, unknown>): RefConfig {
  const num = (key: string): number => {
    const v = raw[key];
    if (typeof v !== 'number') throw new Error(`config.json: ${key} is not a number`);
    return v;
  };
  const dModel = num('hidden_size');
  const heads = num('num_attention_heads');
  const dHead = dModel / heads;
  return {
    vocab: num('vocab_size'),
    dModel,
    heads,
    dHead,
    layers: num('num_hidden_layers'),
    dMlp: num('intermediate_size'),
    eps: num('layer_norm_eps'),
    // Hugging Face: rotary_ndims = int(head_size · rotary_pct).
    rotaryDims: Math.floor(dHead * num('rotary_pct')),
    rotaryBase: num('rotary_emb_base'),
    parallelResidual: raw.use_parallel_residual !== false,
    hiddenAct: typeof raw.hidden_act === 'string' ? raw.hidden_act : 'gelu',
  };
}

/** erf in float64: its Maclaurin series near 0, a continued fraction of erfc further out. */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  if (ax < 2.5) {
    // erf(x) = 2/√π Σ (−1)ⁿ x^(2n+1) / (n! (2n+1))
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-18 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated from the tail.
  let f = ax;
  for (let k = 120; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

function activation(name: string): (x: number) => number {
  if (name === 'gelu') return (x) => 0.5 * x * (1 + erf(x / Math.SQRT2));
  if (name === 'gelu_new' || name === 'gelu_fast' || name === 'gelu_pytorch_tanh') {
    return (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  }
  if (name === 'relu') return (x) => Math.max(0, x);
  throw new Error(`reference: unsupported hidden_act ${name}`);
}

/** y[t, o] = Σ_i x[t, i] · W[o, i] + b[o]  (W is [out, in], as torch.nn.Linear stores it). */
function linear(
  x: Float64Array,
  rows: number,
  inDim: number,
  w: Float64Array,
  b: Float64Array | null,
  outDim: number,
): Float64Array {
  const y = new Float64Array(rows * outDim);
  // A row of W is read once for every position (W of a large model is far bigger than any cache).
  for (let o = 0; o < outDim; o++) {
    const wo = o * inDim;
    for (let t = 0; t < rows; t++) {
      let s = b ? b[o]! : 0;
      const xt = t * inDim;
      for (let i = 0; i < inDim; i++) s += x[xt + i]! * w[wo + i]!;
      y[t * outDim + o] = s;
    }
  }
  return y;
}

type MatrixOverride = (
  name: string,
  values: Float32Array,
  shape: [number, number],
) => ArrayLike<number>;

/**
 * Reads a tensor of `checkpoint` as float64 (F16, BF16, F32 or F64), checking its size; a matrix
 * `[N, K]` goes through `matrices` when given.
 */
async function readF64(
  checkpoint: Checkpoint,
  name: string,
  size: number,
  matrix?: [number, number],
  matrices?: MatrixOverride,
): Promise<Float64Array> {
  const entry = checkpoint.tensors.get(name);
  if (!entry) throw new Error(`reference: the checkpoint has no ${name}`);
  const data = tensorData(entry.dtype, await checkpoint.read(name));
  let values: ArrayLike<number>;
  if (entry.dtype === 'F16') values = f16BitsToF32Array(data as Uint16Array);
  else if (entry.dtype === 'BF16') {
    const bits = data as Uint16Array;
    const u = new Uint32Array(bits.length);
    for (let i = 0; i < bits.length; i++) u[i] = bits[i]! << 16;
    values = new Float32Array(u.buffer);
  } else if (entry.dtype === 'F32' || entry.dtype === 'F64') {
    values = data as Float32Array | Float64Array;
  } else throw new Error(`reference: ${name} is ${entry.dtype}`);
  if (values.length !== size) {
    throw new Error(`reference: ${name} has ${values.length} values, expected ${size}`);
  }
  if (matrix && matrices)
    return Float64Array.from(matrices(name, Float32Array.from(values), matrix));
  return Float64Array.from(values);
}

/** The weights of block `l`, as float64. */
async function readLayer(
  checkpoint: Checkpoint,
  config: RefConfig,
  l: number,
  matrices?: MatrixOverride,
): Promise<RefLayer> {
  const { dModel: d, dMlp: m } = config;
  const p = `gpt_neox.layers.${l}`;
  const read = (name: string, size: number, matrix?: [number, number]) =>
    readF64(checkpoint, `${p}.${name}`, size, matrix, matrices);
  return {
    ln1W: await read('input_layernorm.weight', d),
    ln1B: await read('input_layernorm.bias', d),
    ln2W: await read('post_attention_layernorm.weight', d),
    ln2B: await read('post_attention_layernorm.bias', d),
    qkvW: await read('attention.query_key_value.weight', 3 * d * d, [3 * d, d]),
    qkvB: await read('attention.query_key_value.bias', 3 * d),
    denseW: await read('attention.dense.weight', d * d, [d, d]),
    denseB: await read('attention.dense.bias', d),
    upW: await read('mlp.dense_h_to_4h.weight', m * d, [m, d]),
    upB: await read('mlp.dense_h_to_4h.bias', m),
    downW: await read('mlp.dense_4h_to_h.weight', d * m, [d, m]),
    downB: await read('mlp.dense_4h_to_h.bias', d),
  };
}

type At = (name: string, data: Float64Array, shape: number[]) => Float64Array;

export class ReferenceNeoX {
  private constructor(
    readonly config: RefConfig,
    private readonly embedIn: Float64Array,
    private readonly layerWeights: RefLayer[],
    private readonly lnFW: Float64Array,
    private readonly lnFB: Float64Array,
    private readonly embedOut: Float64Array,
  ) {}

  /**
   * Reads `config.json` and the weights of a Hugging Face GPT-NeoX folder, as float64. With
   * `matrices`, the four matrices of every block and `embed_out` (`embed_in`'s values when tied)
   * are replaced by what it returns for their values (f32, as read) and `[N, K]` shape: e.g. their
   * quantized-then-dequantized values, to check a quantized model's pass apart from the error.
   */
  static async load(
    folder: string,
    options: {
      matrices?: MatrixOverride;
    } = {},
  ): Promise<ReferenceNeoX> {
    const config = parseConfig(JSON.parse(readFileSync(`${folder}/config.json`, 'utf8')));
    const checkpoint = await openCheckpoint(folder, 'local', new LocalFolderStore());
    try {
      const read = (name: string, size: number, matrix?: [number, number]) =>
        readF64(checkpoint, name, size, matrix, options.matrices);
      const { vocab, dModel: d, layers } = config;
      const layerWeights: RefLayer[] = [];
      for (let l = 0; l < layers; l++) {
        layerWeights.push(await readLayer(checkpoint, config, l, options.matrices));
      }
      const embedIn = await read('gpt_neox.embed_in.weight', vocab * d);
      const embedOut = checkpoint.tensors.has('embed_out.weight')
        ? await read('embed_out.weight', vocab * d, [vocab, d])
        : options.matrices
          ? await read('gpt_neox.embed_in.weight', vocab * d, [vocab, d])
          : embedIn;
      return new ReferenceNeoX(
        config,
        embedIn,
        layerWeights,
        await read('gpt_neox.final_layer_norm.weight', d),
        await read('gpt_neox.final_layer_norm.bias', d),
        embedOut,
      );
    } finally {
      await checkpoint.close();
    }
  }

  /**
   * The logits ([pos, vocab]) of every position of `ids` through the model in `folder`, reading
   * one block's weights at a time and dropping them after: for models whose float64 weights do
   * not fit in memory (Pythia-6.9B's and 12B's are 55 and 95 GB). No hooks.
   */
  static async streamedLogits(folder: string, ids: readonly number[]): Promise<Float64Array> {
    const config = parseConfig(JSON.parse(readFileSync(`${folder}/config.json`, 'utf8')));
    const checkpoint = await openCheckpoint(folder, 'local', new LocalFolderStore());
    try {
      const { vocab, dModel: d } = config;
      const read = (name: string, size: number) => readF64(checkpoint, name, size);
      const embedIn = await read('gpt_neox.embed_in.weight', vocab * d);
      const lnFW = await read('gpt_neox.final_layer_norm.weight', d);
      const lnFB = await read('gpt_neox.final_layer_norm.bias', d);
      // embed_out is read after the blocks, when their weights are gone.
      const pass = new ReferenceNeoX(config, embedIn, [], lnFW, lnFB, embedIn);
      const at: At = (_, data) => data;
      let x = pass.embed(ids);
      for (let l = 0; l < config.layers; l++) {
        x = pass.block(l, x, await readLayer(checkpoint, config, l), at);
      }
      const final = pass.layerNorm('ln_final', x, lnFW, lnFB, at);
      const embedOut = checkpoint.tensors.has('embed_out.weight')
        ? await read('embed_out.weight', vocab * d)
        : embedIn;
      return linear(final, ids.length, d, embedOut, null, vocab);
    } finally {
      await checkpoint.close();
    }
  }

  /** The hook point names, in the order the pass reaches them. */
  hookNames(): string[] {
    const names = ['hook_embed'];
    for (let l = 0; l < this.config.layers; l++) {
      const b = `blocks.${l}`;
      names.push(`${b}.hook_resid_pre`, `${b}.ln1.hook_scale`, `${b}.ln1.hook_normalized`);
      for (const a of ['q', 'k', 'v', 'rot_q', 'rot_k', 'attn_scores', 'pattern', 'z', 'result']) {
        names.push(`${b}.attn.hook_${a}`);
      }
      names.push(`${b}.hook_attn_out`);
      if (!this.config.parallelResidual) names.push(`${b}.hook_resid_mid`);
      names.push(`${b}.ln2.hook_scale`, `${b}.ln2.hook_normalized`);
      names.push(`${b}.mlp.hook_pre`, `${b}.mlp.hook_post`, `${b}.hook_mlp_out`);
      names.push(`${b}.hook_resid_post`);
    }
    names.push('ln_final.hook_scale', 'ln_final.hook_normalized');
    return names;
  }

  /**
   * Runs `ids` through the model with `hooks`: every position's logits (or, with
   * `logits: 'last'`, the last position's) and every activation.
   */
  run(
    ids: readonly number[],
    hooks: Record<string, RefHook> = {},
    options: { logits?: 'all' | 'last' } = {},
  ): RefRun {
    const cfg = this.config;
    const T = ids.length;
    const d = cfg.dModel;
    const cache = new Map<string, RefActivation>();
    const at = (name: string, data: Float64Array, shape: number[]): Float64Array => {
      let a: RefActivation = { data, shape };
      const hook = hooks[name];
      if (hook) {
        const out = hook(a);
        if (out) {
          if (out.data.length !== data.length || out.shape.join() !== shape.join()) {
            throw new Error(`reference: ${name}'s hook changed the shape`);
          }
          a = out;
        }
      }
      cache.set(name, { data: Float64Array.from(a.data), shape: [...shape] });
      return a.data;
    };

    let x = at('hook_embed', this.embed(ids), [T, d]);
    for (let l = 0; l < cfg.layers; l++) x = this.block(l, x, this.layerWeights[l]!, at);
    const final = this.layerNorm('ln_final', x, this.lnFW, this.lnFB, at);
    const rows = options.logits === 'last' ? final.subarray((T - 1) * d) : final;
    const logits = linear(rows, rows.length / d, d, this.embedOut, null, cfg.vocab);
    return { logits, cache };
  }

  /** The rows of `embed_in` for `ids`: [pos, d_model]. */
  private embed(ids: readonly number[]): Float64Array {
    const { vocab, dModel: d } = this.config;
    const embed = new Float64Array(ids.length * d);
    ids.forEach((id, t) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new Error(`bad id ${id}`);
      embed.set(this.embedIn.subarray(id * d, (id + 1) * d), t * d);
    });
    return embed;
  }

  /** Block `l` with weights `w` on the residual stream `x` ([pos, d_model]): its resid_post. */
  private block(l: number, input: Float64Array, w: RefLayer, at: At): Float64Array {
    const cfg = this.config;
    const d = cfg.dModel;
    const T = input.length / d;
    const b = `blocks.${l}`;
    const x = at(`${b}.hook_resid_pre`, input, [T, d]);
    const attnIn = this.layerNorm(`${b}.ln1`, x, w.ln1W, w.ln1B, at);
    const attnOut = at(`${b}.hook_attn_out`, this.attention(b, attnIn, w, at), [T, d]);
    let out: Float64Array;
    if (cfg.parallelResidual) {
      // x + attn(ln1(x)) + mlp(ln2(x))
      const mlpIn = this.layerNorm(`${b}.ln2`, x, w.ln2W, w.ln2B, at);
      const mlpOut = at(`${b}.hook_mlp_out`, this.mlp(b, mlpIn, w, at), [T, d]);
      out = x.map((v, i) => v + attnOut[i]! + mlpOut[i]!);
    } else {
      // mid = x + attn(ln1(x)); mid + mlp(ln2(mid))
      const mid = at(
        `${b}.hook_resid_mid`,
        x.map((v, i) => v + attnOut[i]!),
        [T, d],
      );
      const mlpIn = this.layerNorm(`${b}.ln2`, mid, w.ln2W, w.ln2B, at);
      const mlpOut = at(`${b}.hook_mlp_out`, this.mlp(b, mlpIn, w, at), [T, d]);
      out = mid.map((v, i) => v + mlpOut[i]!);
    }
    return at(`${b}.hook_resid_post`, out, [T, d]);
  }

  /** TransformerLens' LayerNorm: scale = √(mean((x − μ)²) + eps), y = (x − μ) / scale · w + b. */
  private layerNorm(
    prefix: string,
    x: Float64Array,
    weight: Float64Array,
    bias: Float64Array,
    at: At,
  ): Float64Array {
    const d = this.config.dModel;
    const T = x.length / d;
    const centered = new Float64Array(x.length);
    const scale = new Float64Array(T);
    for (let t = 0; t < T; t++) {
      let mean = 0;
      for (let i = 0; i < d; i++) mean += x[t * d + i]!;
      mean /= d;
      let variance = 0;
      for (let i = 0; i < d; i++) {
        const c = x[t * d + i]! - mean;
        centered[t * d + i] = c;
        variance += c * c;
      }
      scale[t] = Math.sqrt(variance / d + this.config.eps);
    }
    const usedScale = at(`${prefix}.hook_scale`, scale, [T, 1]);
    const y = new Float64Array(x.length);
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < d; i++) {
        y[t * d + i] = (centered[t * d + i]! / usedScale[t]!) * weight[i]! + bias[i]!;
      }
    }
    return at(`${prefix}.hook_normalized`, y, [T, d]);
  }

  /** Rotary embedding (rotate-half on the first rotaryDims of each head) of [pos, head, d_head]. */
  private rotary(x: Float64Array, T: number): Float64Array {
    const { heads, dHead, rotaryDims: r, rotaryBase } = this.config;
    const out = Float64Array.from(x);
    const half = r / 2;
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < heads; h++) {
        const o = (t * heads + h) * dHead;
        for (let i = 0; i < half; i++) {
          // inv_freq[i] = base^(−2i / r); the angle of dims i and i + r/2 is t · inv_freq[i].
          const angle = t * rotaryBase ** (-(2 * i) / r);
          const c = Math.cos(angle);
          const s = Math.sin(angle);
          const a = x[o + i]!;
          const bb = x[o + i + half]!;
          // x·cos + rotate_half(x)·sin, rotate_half(x) = [−x₂, x₁]
          out[o + i] = a * c - bb * s;
          out[o + i + half] = bb * c + a * s;
        }
      }
    }
    return out;
  }

  private attention(b: string, x: Float64Array, w: RefLayer, at: At): Float64Array {
    const { heads, dHead, dModel: d } = this.config;
    const T = x.length / d;
    const a = `${b}.attn`;
    const qkv = linear(x, T, d, w.qkvW, w.qkvB, 3 * d);
    // Hugging Face views qkv as [pos, head, 3·d_head]: q, k, v are consecutive within each head.
    const split = (which: number) => {
      const out = new Float64Array(T * heads * dHead);
      for (let t = 0; t < T; t++) {
        for (let h = 0; h < heads; h++) {
          for (let i = 0; i < dHead; i++) {
            out[(t * heads + h) * dHead + i] = qkv[t * 3 * d + h * 3 * dHead + which * dHead + i]!;
          }
        }
      }
      return out;
    };
    const headShape = [T, heads, dHead];
    const q = at(`${a}.hook_q`, split(0), headShape);
    const k = at(`${a}.hook_k`, split(1), headShape);
    const v = at(`${a}.hook_v`, split(2), headShape);
    const rq = at(`${a}.hook_rot_q`, this.rotary(q, T), headShape);
    const rk = at(`${a}.hook_rot_k`, this.rotary(k, T), headShape);
    const scores = new Float64Array(heads * T * T);
    const norm = 1 / Math.sqrt(dHead);
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < T; i++) {
        for (let j = 0; j < T; j++) {
          let s = Number.NEGATIVE_INFINITY;
          if (j <= i) {
            s = 0;
            for (let e = 0; e < dHead; e++) {
              s += rq[(i * heads + h) * dHead + e]! * rk[(j * heads + h) * dHead + e]!;
            }
            s *= norm;
          }
          scores[(h * T + i) * T + j] = s;
        }
      }
    }
    const usedScores = at(`${a}.hook_attn_scores`, scores, [heads, T, T]);
    const pattern = new Float64Array(heads * T * T);
    for (let row = 0; row < heads * T; row++) {
      const o = row * T;
      let max = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < T; j++) max = Math.max(max, usedScores[o + j]!);
      let sum = 0;
      for (let j = 0; j < T; j++) {
        const e =
          usedScores[o + j] === Number.NEGATIVE_INFINITY ? 0 : Math.exp(usedScores[o + j]! - max);
        pattern[o + j] = e;
        sum += e;
      }
      for (let j = 0; j < T; j++) pattern[o + j] = pattern[o + j]! / sum;
    }
    const p = at(`${a}.hook_pattern`, pattern, [heads, T, T]);
    const z = new Float64Array(T * heads * dHead);
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < T; i++) {
        for (let j = 0; j < T; j++) {
          const pij = p[(h * T + i) * T + j]!;
          const o = (i * heads + h) * dHead;
          for (let e = 0; e < dHead; e++)
            z[o + e] = z[o + e]! + pij * v[(j * heads + h) * dHead + e]!;
        }
      }
    }
    const zz = at(`${a}.hook_z`, z, headShape);
    // result[t, h, o] = Σ_e W_dense[o, h·d_head + e] · z[t, h, e]
    const result = new Float64Array(T * heads * d);
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < heads; h++) {
        for (let o = 0; o < d; o++) {
          let s = 0;
          for (let e = 0; e < dHead; e++) {
            s += w.denseW[o * d + h * dHead + e]! * zz[(t * heads + h) * dHead + e]!;
          }
          result[(t * heads + h) * d + o] = s;
        }
      }
    }
    const r = at(`${a}.hook_result`, result, [T, heads, d]);
    const out = new Float64Array(T * d);
    for (let t = 0; t < T; t++) {
      for (let o = 0; o < d; o++) {
        let s = w.denseB[o]!;
        for (let h = 0; h < heads; h++) s += r[(t * heads + h) * d + o]!;
        out[t * d + o] = s;
      }
    }
    return out;
  }

  private mlp(b: string, x: Float64Array, w: RefLayer, at: At): Float64Array {
    const { dModel: d, dMlp: m } = this.config;
    const T = x.length / d;
    const pre = at(`${b}.mlp.hook_pre`, linear(x, T, d, w.upW, w.upB, m), [T, m]);
    const act = activation(this.config.hiddenAct);
    const post = at(`${b}.mlp.hook_post`, pre.map(act), [T, m]);
    return linear(post, T, m, w.downW, w.downB, d);
  }
}
