// The GPT-NeoX forward pass, as Hugging Face's `GPTNeoXForCausalLM` computes it and with the hook
// points TransformerLens names. Each sublayer is written as its math, op by op (the reference
// path, taken when a hook asks for an intermediate); where no hook does, a fused kernel computes
// the same thing faster, and the comment at each such branch says what it fuses.
import {
  add,
  applyPattern,
  attention as attentionKernel,
  attentionScores,
  causalSoftmax,
  type Device,
  dequantize,
  embedding,
  gelu,
  headOutputs,
  layerNorm,
  layerNormScale,
  matmul,
  packSequences,
  QuantizedTensor,
  rotary,
  type SequencePacking,
  splitQkv,
  splitQkvRotary,
  sumHeads,
  type Tensor,
  writeKvCache,
} from '@pythiajs/tensor-core';
import type { NeoXConfig } from './config.js';
import { ForwardError } from './errors.js';
import type { HookRunner, HookStep } from './hooks.js';
import type { KVCache } from './kv-cache.js';
import type { LayerWeights, MatrixWeight, NeoXWeights } from './weights.js';

/**
 * Where a step's tokens go: one sequence continues at `positionOffset` (the cache's length), or
 * a packed batch is placed by a `SequencePacking` (each sequence's rows and positions).
 */
type Placement = { positionOffset: number } | { packing: SequencePacking };

/** Disposes intermediates once the kernels that read them are recorded (the pool reuses them). */
class Scratch {
  private tensors: Tensor[] = [];
  keep<T extends Tensor>(t: T): T {
    this.tensors.push(t);
    return t;
  }
  release(except?: Tensor): void {
    for (const t of this.tensors) if (t !== except) t.dispose();
    this.tensors = [];
  }
}

/**
 * `input · Wᵀ + b`, not yet computed, so that the block can fuse the residual add into the
 * matmul's epilogue; or an output already computed (from `attn.hook_result`'s per-head sums).
 */
type Projection =
  | { input: Tensor<'f32'>; weight: MatrixWeight; bias: Tensor<'f32' | 'f16'> }
  | { output: Tensor<'f32'> };

/** One step's state, shared by its layers: what they read, where rows go, which hooks run. */
interface Step {
  config: NeoXConfig;
  cache: KVCache;
  placement: Placement;
  hooks: HookRunner | undefined;
  layout: HookStep;
}

/** Options of {@link forwardHidden}. */
export interface ForwardHiddenOptions {
  hooks?: HookRunner | undefined;
  /**
   * Run blocks 0 … n − 1 only and return the residual stream entering block n (its
   * `hook_resid_pre`), without the final LayerNorm; the cache is left unadvanced.
   */
  stopAtLayer?: number | undefined;
  /**
   * Start at block `layer` from `residual`, the residual stream entering it ([tokens, hidden]),
   * skipping the embedding and earlier blocks (whose cache layers stay unwritten). The pass
   * takes `residual` over and frees it.
   */
  startAt?: { layer: number; residual: Tensor<'f32'> } | undefined;
}

/**
 * One GPT-NeoX forward step: embed → blocks → final LayerNorm. `ids` are the tokens of every
 * sequence of `cache`, packed: the first `counts[0]` continue sequence 0, the next `counts[1]`
 * sequence 1, and so on (a count may be 0). Every op but attention is row-wise, so the batch
 * shares one activation `[Σ counts, hidden]` and one matmul per weight; attention keeps each
 * sequence to its own cache rows and positions. Returns the final hidden states (after
 * `ln_final`) f32 `[tokens, hidden]`; the caller unembeds the rows it needs. Kernels are only
 * recorded here; they run when the caller reads a result.
 */
export function forwardHidden(
  device: Device,
  config: NeoXConfig,
  weights: NeoXWeights,
  ids: Uint32Array,
  counts: readonly number[],
  cache: KVCache,
  options: ForwardHiddenOptions = {},
): Tensor<'f32'> {
  const { hooks, stopAtLayer, startAt } = options;
  const starts = cache.sequences === 1 ? [cache.length] : cache.lengths;
  let packing: SequencePacking | undefined;
  let placement: Placement;
  if (cache.sequences === 1) {
    placement = { positionOffset: starts[0]! };
  } else {
    const cacheStarts = cache.starts;
    packing = packSequences(
      device,
      counts.map((length, i) => ({ cacheStart: cacheStarts[i]!, position: starts[i]!, length })),
    );
    placement = { packing };
  }
  const step: Step = { config, cache, placement, hooks, layout: { counts, starts } };
  let x: Tensor<'f32'>;
  if (startAt) {
    x = startAt.residual;
  } else {
    const idTensor = device.tensor(ids);
    x = replaced(step, 'hook_embed', embedding(idTensor, weights.embedIn));
    idTensor.dispose();
  }
  for (let l = startAt?.layer ?? 0; l < config.numLayers; l++) {
    x = replaced(step, `blocks.${l}.hook_resid_pre`, x);
    if (l === stopAtLayer) {
      packing?.dispose();
      return x;
    }
    const out = block(step, weights.layers[l]!, l, x);
    x.dispose();
    x = replaced(step, `blocks.${l}.hook_resid_post`, out);
  }
  packing?.dispose();
  if (stopAtLayer === config.numLayers) return x;
  const scratch = new Scratch();
  const normed = norm(step, 'ln_final', x, weights.finalNormWeight, weights.finalNormBias, scratch);
  scratch.release(normed);
  x.dispose();
  cache.advance(counts);
  return normed;
}

/** The activation at `name` through its hook, if one wants it; a replaced original is freed. */
function replaced(step: Step, name: string, t: Tensor<'f32'>): Tensor<'f32'> {
  if (!step.hooks?.wants(name)) return t;
  const out = checked(name, t, step.hooks.visit(name, t, step.layout));
  if (out !== t) t.dispose();
  return out;
}

/** A hook's replacement, refused unless it has the activation's shape and dtype. */
function checked(name: string, t: Tensor<'f32'>, out: Tensor<'f32'>): Tensor<'f32'> {
  if (out === t) return out;
  if (
    out.dtype !== 'f32' ||
    out.shape.length !== t.shape.length ||
    out.shape.some((d, i) => d !== t.shape[i])
  ) {
    throw new ForwardError(
      `the hook at ${name} returned ${out.toString()}, but the activation is ${t.toString()}; return a tensor of its shape`,
    );
  }
  return out;
}

/**
 * The activation at `name` through its hook, if one wants it; `t` and what the hook returned are
 * kept in `scratch` (freed with the block's other intermediates).
 */
function hook(step: Step, name: string, t: Tensor<'f32'>, scratch: Scratch): Tensor<'f32'> {
  scratch.keep(t);
  if (!step.hooks?.wants(name)) return t;
  return scratch.keep(checked(name, t, step.hooks.visit(name, t, step.layout)));
}

function wants(step: Step, name: string): boolean {
  return step.hooks?.wants(name) ?? false;
}

/**
 * One transformer block, `blocks.{l}`:
 *   parallel (Pythia):  out = x + attn(ln1(x)) + mlp(ln2(x))
 *   sequential:         mid = x + attn(ln1(x)),  out = mid + mlp(ln2(mid))
 */
function block(step: Step, w: LayerWeights, l: number, x: Tensor<'f32'>): Tensor<'f32'> {
  const b = `blocks.${l}`;
  const s = new Scratch();
  const attn = attention(step, w, l, norm(step, `${b}.ln1`, x, w.ln1Weight, w.ln1Bias, s), s);
  let out: Tensor<'f32'>;
  if (step.config.parallelResidual) {
    const mlpIn = norm(step, `${b}.ln2`, x, w.ln2Weight, w.ln2Bias, s);
    const withAttn = s.keep(addProjection(step, `${b}.hook_attn_out`, x, attn, s));
    out = addProjection(step, `${b}.hook_mlp_out`, withAttn, mlp(step, w, b, mlpIn, s), s);
  } else {
    const sum = addProjection(step, `${b}.hook_attn_out`, x, attn, s);
    const mid = hook(step, `${b}.hook_resid_mid`, sum, s);
    const mlpIn = norm(step, `${b}.ln2`, mid, w.ln2Weight, w.ln2Bias, s);
    out = addProjection(step, `${b}.hook_mlp_out`, mid, mlp(step, w, b, mlpIn, s), s);
  }
  s.release(x);
  return out;
}

/**
 * LayerNorm `{prefix}` (ln1, ln2, ln_final) as TransformerLens splits it:
 *   scale = √(mean((x − mean(x))²) + eps)      hook_scale      [pos, 1]
 *   y = (x − mean(x)) / scale · w + b          hook_normalized [pos, d]
 * A hooked scale (e.g. frozen from another run, to make the norm linear) is what y divides by.
 */
function norm(
  step: Step,
  prefix: string,
  x: Tensor<'f32'>,
  weight: Tensor<'f32' | 'f16'>,
  bias: Tensor<'f32' | 'f16'>,
  s: Scratch,
): Tensor<'f32'> {
  const eps = step.config.layerNormEps;
  let normed: Tensor<'f32'>;
  if (wants(step, `${prefix}.hook_scale`)) {
    const scale = hook(step, `${prefix}.hook_scale`, layerNormScale(x, eps), s);
    normed = layerNorm(x, weight, bias, eps, { scale });
  } else {
    // Fused: the kernel computes the scale itself.
    normed = layerNorm(x, weight, bias, eps);
  }
  return hook(step, `${prefix}.hook_normalized`, normed, s);
}

/**
 * Multi-head causal self-attention of `blocks.{l}` on its normed input x [pos, d_model]:
 *   q, k, v = split(x·W_qkvᵀ + b_qkv)             [pos, head, d_head], interleaved per head
 *   rot_q, rot_k = rotary(q), rotary(k)           partial: the first rotaryDims of each head
 *   (rot_k, v) appended to the KV cache
 *   scores[h, dest, src] = rot_q·rot_k / √d_head,  −∞ for src > dest
 *   pattern = softmax_src(scores)
 *   z[pos, h] = Σ_src pattern[h, pos, src] · v[src, h]
 *   attn_out = z·W_Oᵀ + b_O  =  Σ_h result[pos, h] + b_O
 * Returns attn_out as a {@link Projection}, so that the block can fuse the residual add.
 */
function attention(
  step: Step,
  w: LayerWeights,
  l: number,
  x: Tensor<'f32'>,
  s: Scratch,
): Projection {
  const { config, cache, placement } = step;
  const a = `blocks.${l}.attn`;
  const heads = config.numHeads;
  const headDim = config.hiddenSize / heads;
  const tokens = x.shape[0]!;
  const kCache = cache.keys[l]!;
  const vCache = cache.values[l]!;
  const qkv = s.keep(matmul(x, w.qkvWeight, w.qkvBias));
  const rope = { rotaryDims: config.rotaryDims, base: config.rotaryBase, ...placement };
  let q: Tensor<'f32'>;
  if (['hook_q', 'hook_k', 'hook_v', 'hook_rot_k'].some((n) => wants(step, `${a}.${n}`))) {
    const split = splitQkv(qkv, { heads });
    const rawQ = hook(step, `${a}.hook_q`, split.q, s);
    const rawK = hook(step, `${a}.hook_k`, split.k, s);
    const v = hook(step, `${a}.hook_v`, split.v, s);
    const k = hook(step, `${a}.hook_rot_k`, rotary(rawK, rope), s);
    writeKvCache(k, v, kCache, vCache, placement);
    q = hook(step, `${a}.hook_rot_q`, rotary(rawQ, rope), s);
  } else {
    // Fused: one kernel splits qkv, rotates q and k, and appends k and v to the cache.
    const rotQ = splitQkvRotary(qkv, kCache, vCache, { heads, ...rope });
    q = hook(step, `${a}.hook_rot_q`, rotQ, s);
  }
  let z: Tensor<'f32'>;
  if (wants(step, `${a}.hook_attn_scores`) || wants(step, `${a}.hook_pattern`)) {
    const scores = hook(step, `${a}.hook_attn_scores`, attentionScores(q, kCache, placement), s);
    const pattern = hook(step, `${a}.hook_pattern`, causalSoftmax(scores, placement), s);
    z = s.keep(applyPattern(pattern, vCache, placement));
  } else {
    // Fused: scores, softmax and the weighted sum of values in one pass over the keys.
    z = s.keep(attentionKernel(q, kCache, vCache, placement));
  }
  if (wants(step, `${a}.hook_z`)) {
    // z is [pos, head·d_head] for the projection; the hook sees it per head.
    const perHead = hook(step, `${a}.hook_z`, z.reshape([tokens, heads, headDim]), s);
    z = s.keep(perHead.reshape([tokens, heads * headDim]));
  }
  if (wants(step, `${a}.hook_result`)) {
    // headOutputs reads a plain matrix: a quantized one is dequantized for it (same values).
    const dense =
      w.denseWeight instanceof QuantizedTensor ? s.keep(dequantize(w.denseWeight)) : w.denseWeight;
    const result = hook(step, `${a}.hook_result`, headOutputs(z, dense, { heads }), s);
    return { output: sumHeads(result, w.denseBias) };
  }
  return { input: z, weight: w.denseWeight, bias: w.denseBias };
}

/**
 * The MLP of block `b` on its normed input x [pos, d_model]:
 *   pre = x·W_inᵀ + b_in,  post = gelu(pre),  mlp_out = post·W_outᵀ + b_out
 */
function mlp(step: Step, w: LayerWeights, b: string, x: Tensor<'f32'>, s: Scratch): Projection {
  const approximate = step.config.activation === 'gelu' ? 'none' : 'tanh';
  let post: Tensor<'f32'>;
  if (wants(step, `${b}.mlp.hook_pre`) || wants(step, `${b}.mlp.hook_post`)) {
    const pre = hook(step, `${b}.mlp.hook_pre`, matmul(x, w.upWeight, w.upBias), s);
    post = hook(step, `${b}.mlp.hook_post`, gelu(pre, { approximate }), s);
  } else {
    // Fused: GELU in the matmul's epilogue.
    const activation = approximate === 'none' ? 'gelu' : 'gelu-tanh';
    post = s.keep(matmul(x, w.upWeight, w.upBias, { activation }));
  }
  return { input: post, weight: w.downWeight, bias: w.downBias };
}

/**
 * `residual + projection`, with the projection's output hooked at `name` (hook_attn_out,
 * hook_mlp_out) when a hook wants it; otherwise the add rides in the matmul's epilogue.
 */
function addProjection(
  step: Step,
  name: string,
  residual: Tensor<'f32'>,
  p: Projection,
  s: Scratch,
): Tensor<'f32'> {
  if ('input' in p && !wants(step, name)) {
    return matmul(p.input, p.weight, p.bias, { residual });
  }
  const computed = 'output' in p ? p.output : matmul(p.input, p.weight, p.bias);
  return add(residual, hook(step, name, computed, s));
}
