import { logSoftmaxAt, topKWithProbabilities } from '@pythiajs/sampler';
import { add, layerNorm, matmul, type Tensor } from '@pythiajs/tensor-core';
import { ForwardError } from './errors.js';
import { type HookRunner, hookNames } from './hooks.js';
import type { NeoXModel } from './model.js';

/** An activation read back to the CPU. */
export interface Activation {
  /** Row-major values. */
  data: Float32Array;
  /** E.g. `[tokens, hidden]`; `[heads, dest, src]` for `attn.hook_pattern`. */
  shape: number[];
}

/** The activations a run recorded, by hook name. */
export type ActivationCache = Map<string, Activation>;

function checkNames(model: NeoXModel, names: Iterable<string>): Set<string> {
  const valid = new Set(hookNames(model.config.numLayers, model.config.parallelResidual));
  const wanted = new Set(names);
  for (const name of wanted) {
    if (!valid.has(name)) {
      throw new ForwardError(
        `no hook point ${JSON.stringify(name)}; hook points are hook_embed, blocks.{0…${model.config.numLayers - 1}}.` +
          '{hook_resid_pre, ln1.hook_normalized, attn.hook_q/k/v, attn.hook_rot_q/k, attn.hook_pattern, attn.hook_z, hook_attn_out, ' +
          'ln2.hook_normalized, mlp.hook_pre, mlp.hook_post, hook_mlp_out, hook_resid_post} and ln_final.hook_normalized',
      );
    }
  }
  return wanted;
}

/**
 * Runs the model on `ids` and reads back the activations at `names` (TransformerLens hook names,
 * e.g. `blocks.3.hook_resid_post`, `blocks.0.attn.hook_pattern`). Only those are read back;
 * hooks that are not asked for keep the fused fast path.
 *
 * @example
 * ```ts
 * const { logits, cache } = await runWithCache(model, ids, { names: ['blocks.0.attn.hook_pattern'] });
 * cache.get('blocks.0.attn.hook_pattern'); // { data, shape: [heads, tokens, tokens] }
 * ```
 */
export async function runWithCache(
  model: NeoXModel,
  ids: ArrayLike<number>,
  options: { names: Iterable<string> },
): Promise<{ logits: Float32Array; cache: ActivationCache }> {
  const wanted = checkNames(model, options.names);
  const reads: Array<[string, readonly number[], Promise<Float32Array>]> = [];
  const hooks: HookRunner = {
    wants: (name) => wanted.has(name),
    visit: (name, t) => {
      reads.push([name, t.shape, t.read()]);
      return t;
    },
  };
  const logits = await model.forward(ids, { hooks });
  const cache: ActivationCache = new Map();
  for (const [name, shape, data] of reads) cache.set(name, { data: await data, shape: [...shape] });
  return { logits, cache };
}

/**
 * An activation a hook may change, on the GPU. Values given from the CPU are either the whole
 * activation (`shape` elements) or one row that applies to every position (the last dimension).
 */
export class HookedActivation {
  private replacement: Tensor<'f32'> | undefined;

  constructor(
    /** The hook point. */
    readonly name: string,
    /** The activation as computed. */
    readonly tensor: Tensor<'f32'>,
  ) {}

  get shape(): readonly number[] {
    return this.tensor.shape;
  }

  private upload(values: ArrayLike<number>): Tensor<'f32'> {
    const size = this.tensor.size;
    const row = this.shape.at(-1)!;
    if (values.length !== size && values.length !== row) {
      throw new ForwardError(
        `${this.name} has shape [${this.shape.join(', ')}]: give ${size} values, or ${row} for every position`,
      );
    }
    const full = new Float32Array(size);
    if (values.length === size) full.set(values);
    else
      for (let i = 0; i < size; i += row) full.set(values as ArrayLike<number> as Float32Array, i);
    return this.tensor.device.tensor(full, this.shape);
  }

  /** Zero ablation. */
  zero(): void {
    this.replacement = this.tensor.device.zeros(this.shape);
  }

  /** Replaces the activation: patching from another run's cache, or mean ablation. */
  set(values: ArrayLike<number>): void {
    this.replacement = this.upload(values);
  }

  /** Adds to the activation: a steering vector (one row) or any delta of its shape. */
  add(values: ArrayLike<number>): void {
    const delta = this.upload(values);
    this.replacement = add(this.replacement ?? this.tensor, delta);
    delta.dispose();
  }

  /** @internal */
  result(): Tensor<'f32'> {
    return this.replacement ?? this.tensor;
  }
}

/** A hook function: changes the activation through `activation`'s methods. */
export type Hook = (activation: HookedActivation) => void;

/**
 * Runs the model with hooks that change activations on the GPU (ablation, patching, steering)
 * and returns the logits, `[tokens × vocab]`.
 *
 * @example
 * ```ts
 * // Zero-ablate layer 3's attention and compare the logits.
 * const ablated = await runWithHooks(model, ids, { 'blocks.3.hook_attn_out': (a) => a.zero() });
 * ```
 */
export async function runWithHooks(
  model: NeoXModel,
  ids: ArrayLike<number>,
  hooks: Record<string, Hook>,
): Promise<Float32Array> {
  const wanted = checkNames(model, Object.keys(hooks));
  const runner: HookRunner = {
    wants: (name) => wanted.has(name),
    visit: (name, t) => {
      const activation = new HookedActivation(name, t);
      hooks[name]!(activation);
      const result = activation.result();
      // The replaced original is read by nothing after the kernels recorded so far.
      if (result !== t) t.dispose();
      return result;
    },
  };
  return model.forward(ids, { hooks: runner });
}

/** One layer of a logit lens: the most likely next token at every position. */
export interface LensLayer {
  /** `hook_embed`, or `blocks.{l}.hook_resid_post`. */
  name: string;
  topIds: number[];
  topProbs: number[];
}

/** The top entry of each row and its probability (a stable float64 softmax; ties: lower id). */
function topOfRows(
  logits: Float32Array,
  rows: number,
  width: number,
): { ids: number[]; probs: number[] } {
  const ids: number[] = [];
  const probs: number[] = [];
  for (let r = 0; r < rows; r++) {
    const [top] = topKWithProbabilities(logits.subarray(r * width, (r + 1) * width), 1);
    ids.push(top!.id);
    probs.push(top!.prob);
  }
  return { ids, probs };
}

/**
 * The logit lens: the final LayerNorm and unembedding applied to the residual stream after the
 * embedding and after every block, so one sees what each layer "would predict". The last layer's
 * row is the model's own prediction.
 */
export async function logitLens(model: NeoXModel, ids: ArrayLike<number>): Promise<LensLayer[]> {
  const { config, weights } = model;
  const names = [
    'hook_embed',
    ...Array.from({ length: config.numLayers }, (_, l) => `blocks.${l}.hook_resid_post`),
  ];
  const reads = new Map<string, Promise<Float32Array>>();
  const runner: HookRunner = {
    wants: (name) => names.includes(name),
    visit: (name, t) => {
      // Recorded while the residual is alive; read back after the run.
      const normed = layerNorm(
        t,
        weights.finalNormWeight,
        weights.finalNormBias,
        config.layerNormEps,
      );
      const logits = matmul(normed, weights.embedOut);
      normed.dispose();
      reads.set(
        name,
        logits.read().finally(() => logits.dispose()),
      );
      return t;
    },
  };
  await model.forward(ids, { hooks: runner, logits: 'last' });
  const out: LensLayer[] = [];
  for (const name of names) {
    const { ids: topIds, probs } = topOfRows(await reads.get(name)!, ids.length, config.vocabSize);
    out.push({ name, topIds, topProbs: probs });
  }
  return out;
}

/**
 * Log-probability of each token given the ones before it: `[log p(ids[1] | ids[0]), …]`, length
 * `ids.length − 1` (natural log; the loss is its negative mean).
 */
export async function tokenLogprobs(
  model: NeoXModel,
  ids: ArrayLike<number>,
): Promise<Float64Array> {
  const vocab = model.config.vocabSize;
  const logits = await model.forward(ids);
  const out = new Float64Array(Math.max(0, ids.length - 1));
  for (let t = 0; t + 1 < ids.length; t++)
    out[t] = logSoftmaxAt(logits.subarray(t * vocab, (t + 1) * vocab), ids[t + 1]!);
  return out;
}

/**
 * Attention patterns of every layer in the layout CircuitsVis draws: `[heads, dest, src]`
 * (post-softmax; `src > dest` is 0).
 */
export async function attentionPatterns(
  model: NeoXModel,
  ids: ArrayLike<number>,
): Promise<Activation[]> {
  const names = Array.from(
    { length: model.config.numLayers },
    (_, l) => `blocks.${l}.attn.hook_pattern`,
  );
  const { cache } = await runWithCache(model, ids, { names });
  return names.map((n) => cache.get(n)!);
}
