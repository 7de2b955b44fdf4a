import {
  add,
  attention,
  attentionWithProbs,
  type Device,
  embedding,
  gelu,
  layerNorm,
  matmul,
  packSequences,
  rotary,
  type SequencePacking,
  splitQkv,
  splitQkvRotary,
  type Tensor,
  writeKvCache,
} from '@pythiajs/tensor-core';
import type { NeoXConfig } from './config.js';
import type { HookRunner } from './hooks.js';
import type { KVCache } from './kv-cache.js';
import type { LayerWeights, NeoXWeights } from './weights.js';

const UNFUSED_QKV_HOOKS = ['attn.hook_q', 'attn.hook_k', 'attn.hook_v', 'attn.hook_rot_k'];

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
 * Where a step's tokens go: one sequence continues at `positionOffset` (the cache's length), or
 * a packed batch is placed by a `SequencePacking` (each sequence's rows and positions).
 */
type Placement = { positionOffset: number } | { packing: SequencePacking };

/**
 * One GPT-NeoX forward step, exactly as Hugging Face's `GPTNeoXForCausalLM` computes it: embed →
 * blocks → final LayerNorm. `ids` are the tokens of every sequence of `cache`, packed: the first
 * `counts[0]` continue sequence 0, the next `counts[1]` sequence 1, and so on (a count may be 0).
 * Every op but attention is row-wise, so the batch shares one activation `[Σ counts, hidden]` and
 * one matmul per weight; attention keeps each sequence to its own cache rows and positions.
 * Returns the final hidden states (after `ln_final`) f32 `[tokens, hidden]`; the caller unembeds
 * the rows it needs. Kernels are only recorded here; they run when the caller reads a result.
 */
export function forwardHidden(
  device: Device,
  config: NeoXConfig,
  weights: NeoXWeights,
  ids: Uint32Array,
  counts: readonly number[],
  cache: KVCache,
  hooks?: HookRunner,
): Tensor<'f32'> {
  let packing: SequencePacking | undefined;
  let placement: Placement;
  if (cache.sequences === 1) {
    placement = { positionOffset: cache.length };
  } else {
    const { starts, lengths } = cache;
    packing = packSequences(
      device,
      counts.map((length, i) => ({ cacheStart: starts[i]!, position: lengths[i]!, length })),
    );
    placement = { packing };
  }
  const hook = (name: string, t: Tensor<'f32'>) => (hooks?.wants(name) ? hooks.visit(name, t) : t);
  const idTensor = device.tensor(ids);
  let x = hook('hook_embed', embedding(idTensor, weights.embedIn));
  idTensor.dispose();
  for (let l = 0; l < config.numLayers; l++) {
    const input = hook(`blocks.${l}.hook_resid_pre`, x);
    const next = block(config, weights.layers[l]!, cache, l, input, placement, hooks);
    x.dispose();
    input.dispose();
    x = hook(`blocks.${l}.hook_resid_post`, next);
  }
  const normed = layerNorm(x, weights.finalNormWeight, weights.finalNormBias, config.layerNormEps);
  x.dispose();
  packing?.dispose();
  cache.advance(counts);
  return hook('ln_final.hook_normalized', normed);
}

function block(
  config: NeoXConfig,
  w: LayerWeights,
  cache: KVCache,
  l: number,
  x: Tensor<'f32'>,
  placement: Placement,
  hooks: HookRunner | undefined,
): Tensor<'f32'> {
  const b = `blocks.${l}`;
  const wants = (name: string) => hooks?.wants(`${b}.${name}`) ?? false;
  const hook = (name: string, t: Tensor<'f32'>) =>
    wants(name) ? hooks!.visit(`${b}.${name}`, t) : t;
  const scratch = new Scratch();
  const eps = config.layerNormEps;
  const activation = config.activation === 'gelu' ? 'gelu' : 'gelu-tanh';

  // Attention: qkv is [tokens, heads·3·headDim] with q, k, v interleaved per head.
  const ln1 = scratch.keep(hook('ln1.hook_normalized', layerNorm(x, w.ln1Weight, w.ln1Bias, eps)));
  const qkv = scratch.keep(matmul(ln1, w.qkvWeight, w.qkvBias));
  const rope = { rotaryDims: config.rotaryDims, base: config.rotaryBase, ...placement };
  let q: Tensor<'f32'>;
  if (UNFUSED_QKV_HOOKS.some(wants)) {
    // Hooks on q, k or v before rotary (or on rotated k): split, rotate and write the cache as
    // separate kernels, so each activation exists to be read or replaced.
    const split = splitQkv(qkv, { heads: config.numHeads });
    const rawQ = scratch.keep(hook('attn.hook_q', scratch.keep(split.q)));
    const rawK = scratch.keep(hook('attn.hook_k', scratch.keep(split.k)));
    const v = scratch.keep(hook('attn.hook_v', scratch.keep(split.v)));
    const k = scratch.keep(hook('attn.hook_rot_k', rotary(rawK, rope)));
    writeKvCache(k, v, cache.keys[l]!, cache.values[l]!, placement);
    q = scratch.keep(hook('attn.hook_rot_q', rotary(rawQ, rope)));
  } else {
    // One kernel splits qkv, rotates q and k, and writes k and v into this layer's cache.
    q = scratch.keep(
      hook(
        'attn.hook_rot_q',
        splitQkvRotary(qkv, cache.keys[l]!, cache.values[l]!, { heads: config.numHeads, ...rope }),
      ),
    );
  }
  let z: Tensor<'f32'>;
  if (wants('attn.hook_pattern')) {
    const { output, probs } = attentionWithProbs(q, cache.keys[l]!, cache.values[l]!, placement);
    scratch.keep(hook('attn.hook_pattern', probs));
    z = output;
  } else {
    z = attention(q, cache.keys[l]!, cache.values[l]!, placement);
  }
  z = scratch.keep(hook('attn.hook_z', z));

  // The MLP's input: ln2 of x (parallel residual, all Pythia models) or of x + attention.
  let mlpIn: Tensor<'f32'>;
  let attnOut: Tensor<'f32'> | undefined;
  if (config.parallelResidual) {
    mlpIn = x;
  } else {
    attnOut = scratch.keep(hook('hook_attn_out', matmul(z, w.denseWeight, w.denseBias)));
    mlpIn = scratch.keep(hook('hook_resid_mid', add(x, attnOut)));
  }
  const ln2 = scratch.keep(
    hook('ln2.hook_normalized', layerNorm(mlpIn, w.ln2Weight, w.ln2Bias, eps)),
  );
  let post: Tensor<'f32'>;
  if (wants('mlp.hook_pre') || wants('mlp.hook_post')) {
    const pre = scratch.keep(hook('mlp.hook_pre', matmul(ln2, w.upWeight, w.upBias)));
    post = hook(
      'mlp.hook_post',
      gelu(pre, { approximate: activation === 'gelu' ? 'none' : 'tanh' }),
    );
  } else {
    post = matmul(ln2, w.upWeight, w.upBias, { activation });
  }
  scratch.keep(post);

  let out: Tensor<'f32'>;
  if (config.parallelResidual) {
    // x + attn(ln1(x)) + mlp(ln2(x)); the residual adds ride in the projections' epilogues.
    if (wants('hook_attn_out') || wants('hook_mlp_out')) {
      attnOut = scratch.keep(hook('hook_attn_out', matmul(z, w.denseWeight, w.denseBias)));
      const mlpOut = scratch.keep(hook('hook_mlp_out', matmul(post, w.downWeight, w.downBias)));
      out = add(scratch.keep(add(x, attnOut)), mlpOut);
    } else {
      const withAttn = scratch.keep(matmul(z, w.denseWeight, w.denseBias, { residual: x }));
      out = matmul(post, w.downWeight, w.downBias, { residual: withAttn });
    }
  } else if (wants('hook_mlp_out')) {
    const mlpOut = scratch.keep(hook('hook_mlp_out', matmul(post, w.downWeight, w.downBias)));
    out = add(mlpIn, mlpOut);
  } else {
    out = matmul(post, w.downWeight, w.downBias, { residual: mlpIn });
  }
  scratch.release(x);
  return out;
}
