import { add, type Tensor } from '@pythiajs/tensor-core';
import { stepTokenLimit } from './batch.js';
import { ForwardError } from './errors.js';
import { type HookRunner, hookNames } from './hooks.js';
import type { NeoXModel } from './model.js';
import { unembedScores } from './unembed-scores.js';

/** Several token sequences, of any lengths, run as one packed batch. */
export type Batch = ReadonlyArray<ArrayLike<number>>;

/** A batch is an array of sequences; a single sequence is an array (or typed array) of ids. */
function isBatch(ids: ArrayLike<number> | Batch): ids is Batch {
  return Array.isArray(ids) && ids.length > 0 && typeof ids[0] !== 'number';
}

/** Where each sequence's rows are in the packed rows of a batch. */
function rowStarts(counts: readonly number[]): number[] {
  const starts: number[] = [];
  let at = 0;
  for (const c of counts) {
    starts.push(at);
    at += c;
  }
  return starts;
}

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
 * One sequence's share of an activation of a packed batch: rows `start … start + count − 1` of
 * `[tokens, …]`, or of the middle axis of a pattern `[heads, tokens, keys]` (keeping the
 * sequence's own `count` keys, which come first: a batch without cache starts every sequence at
 * position 0).
 */
function sliceSequence(name: string, a: Activation, start: number, count: number): Activation {
  if (name.endsWith('attn.hook_pattern')) {
    const [heads, tokens, keys] = a.shape as [number, number, number];
    const data = new Float32Array(heads * count * count);
    for (let h = 0; h < heads; h++) {
      for (let t = 0; t < count; t++) {
        const from = (h * tokens + start + t) * keys;
        data.set(a.data.subarray(from, from + count), (h * count + t) * count);
      }
    }
    return { data, shape: [heads, count, count] };
  }
  const width = a.data.length / a.shape[0]!;
  return {
    data: a.data.slice(start * width, (start + count) * width),
    shape: [count, ...a.shape.slice(1)],
  };
}

/**
 * Runs the model on `ids` and reads back the activations at `names` (TransformerLens hook names,
 * e.g. `blocks.3.hook_resid_post`, `blocks.0.attn.hook_pattern`). Only those are read back;
 * hooks that are not asked for keep the fused fast path.
 *
 * Given a batch (an array of sequences), the sequences run packed in one pass and each gets its
 * own logits and activations, with the shapes a run on it alone gives.
 *
 * @example
 * ```ts
 * const { logits, cache } = await runWithCache(model, ids, { names: ['blocks.0.attn.hook_pattern'] });
 * cache.get('blocks.0.attn.hook_pattern'); // { data, shape: [heads, tokens, tokens] }
 * const batch = await runWithCache(model, [idsA, idsB], { names: ['blocks.3.hook_resid_post'] });
 * batch.caches[1].get('blocks.3.hook_resid_post'); // idsB's, [idsB.length, hidden]
 * ```
 */
export async function runWithCache(
  model: NeoXModel,
  ids: ArrayLike<number>,
  options: { names: Iterable<string> },
): Promise<{ logits: Float32Array; cache: ActivationCache }>;
export async function runWithCache(
  model: NeoXModel,
  batch: Batch,
  options: { names: Iterable<string> },
): Promise<{ logits: Float32Array[]; caches: ActivationCache[] }>;
export async function runWithCache(
  model: NeoXModel,
  ids: ArrayLike<number> | Batch,
  options: { names: Iterable<string> },
): Promise<
  | { logits: Float32Array; cache: ActivationCache }
  | { logits: Float32Array[]; caches: ActivationCache[] }
> {
  const wanted = checkNames(model, options.names);
  const reads: Array<[string, readonly number[], Promise<Float32Array>]> = [];
  const hooks: HookRunner = {
    wants: (name) => wanted.has(name),
    visit: (name, t) => {
      reads.push([name, t.shape, t.read()]);
      return t;
    },
  };
  const sequences = isBatch(ids) ? ids : [ids];
  const logits = await model.forwardBatch(sequences, { hooks });
  const packed: ActivationCache = new Map();
  for (const [name, shape, data] of reads)
    packed.set(name, { data: await data, shape: [...shape] });
  if (!isBatch(ids)) return { logits: logits[0]!, cache: packed };
  const counts = sequences.map((s) => s.length);
  const starts = rowStarts(counts);
  const caches = counts.map((count, i) => {
    const cache: ActivationCache = new Map();
    for (const [name, a] of packed) cache.set(name, sliceSequence(name, a, starts[i]!, count));
    return cache;
  });
  return { logits, caches };
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

  /**
   * The attention output is computed with the pattern inside one kernel, so a changed pattern
   * would not reach it: refuse rather than report logits that ignore the change.
   */
  private assertChangeable(): void {
    if (this.name.endsWith('attn.hook_pattern')) {
      throw new ForwardError(
        `${this.name} can be read (runWithCache) but not changed yet: the attention output would ignore the change. ` +
          'Change attn.hook_z, attn.hook_v or hook_attn_out instead',
      );
    }
  }

  /** Zero ablation. */
  zero(): void {
    this.assertChangeable();
    this.replacement = this.tensor.device.zeros(this.shape);
  }

  /** Replaces the activation: patching from another run's cache, or mean ablation. */
  set(values: ArrayLike<number>): void {
    this.assertChangeable();
    this.replacement = this.upload(values);
  }

  /** Adds to the activation: a steering vector (one row) or any delta of its shape. */
  add(values: ArrayLike<number>): void {
    this.assertChangeable();
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
 * Given a batch (an array of sequences), the sequences run packed in one pass and each gets its
 * logits. Hooks then see the packed activation, `[Σ tokens, …]` sequence after sequence: one row
 * (a steering vector) or `zero` applies to every sequence alike, and full values must be given
 * packed the same way.
 *
 * @example
 * ```ts
 * // Zero-ablate layer 3's attention and compare the logits.
 * const ablated = await runWithHooks(model, ids, { 'blocks.3.hook_attn_out': (a) => a.zero() });
 * ```
 * @throws {ForwardError} a hook changes `attn.hook_pattern` (not supported yet).
 */
export async function runWithHooks(
  model: NeoXModel,
  ids: ArrayLike<number>,
  hooks: Record<string, Hook>,
): Promise<Float32Array>;
export async function runWithHooks(
  model: NeoXModel,
  batch: Batch,
  hooks: Record<string, Hook>,
): Promise<Float32Array[]>;
export async function runWithHooks(
  model: NeoXModel,
  ids: ArrayLike<number> | Batch,
  hooks: Record<string, Hook>,
): Promise<Float32Array | Float32Array[]> {
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
  const logits = await model.forwardBatch(isBatch(ids) ? ids : [ids], { hooks: runner });
  return isBatch(ids) ? logits : logits[0]!;
}

/** One layer of a logit lens: the most likely next token at every position. */
export interface LensLayer {
  /** `hook_embed`, or `blocks.{l}.hook_resid_post`. */
  name: string;
  topIds: number[];
  topProbs: number[];
}

/**
 * The logit lens: the final LayerNorm and unembedding applied to the residual stream after the
 * embedding and after every block, so one sees what each layer "would predict". The last layer's
 * row is the model's own prediction. Each layer's logits are reduced on the GPU to the top token
 * and its probability (ties: the lower id), so only those come back.
 *
 * Given a batch (an array of sequences), they run packed in one pass and each gets its layers.
 *
 * @example
 * ```ts
 * const layers = await logitLens(model, ids);
 * layers.at(-1).topIds; // the model's own greedy prediction at every position
 * ```
 */
export async function logitLens(model: NeoXModel, ids: ArrayLike<number>): Promise<LensLayer[]>;
export async function logitLens(model: NeoXModel, batch: Batch): Promise<LensLayer[][]>;
export async function logitLens(
  model: NeoXModel,
  ids: ArrayLike<number> | Batch,
): Promise<LensLayer[] | LensLayer[][]> {
  const { config } = model;
  const names = [
    'hook_embed',
    ...Array.from({ length: config.numLayers }, (_, l) => `blocks.${l}.hook_resid_post`),
  ];
  const sequences = isBatch(ids) ? ids : [ids];
  const reads = new Map<string, ReturnType<typeof unembedScores>>();
  let rows: Uint32Array | undefined;
  const runner: HookRunner = {
    wants: (name) => names.includes(name),
    visit: (name, t) => {
      // Recorded while the residual is alive; read back after the run.
      rows ??= Uint32Array.from({ length: t.shape[0]! }, (_, i) => i);
      reads.set(name, unembedScores(model, t, rows, { finalNorm: true }));
      return t;
    },
  };
  const { hidden, counts } = model.hiddenBatch(sequences, { hooks: runner });
  hidden.dispose();
  const starts = rowStarts(counts);
  const perSequence: LensLayer[][] = counts.map(() => []);
  for (const name of names) {
    const { argmax, maxLogprob } = await reads.get(name)!;
    counts.forEach((count, i) => {
      const from = starts[i]!;
      perSequence[i]!.push({
        name,
        topIds: Array.from(argmax.subarray(from, from + count)),
        topProbs: Array.from(maxLogprob.subarray(from, from + count), Math.exp),
      });
    });
  }
  return isBatch(ids) ? perSequence : perSequence[0]!;
}

/** What {@link scoreTokens} gives for each predicted token of a sequence. */
export interface TokenScores {
  /** `logprob[t]` = log p(ids[t + 1] | ids[0…t]), natural log; length `ids.length − 1`. */
  logprob: Float32Array;
  /** Entropy of each prediction, in nats. */
  entropy: Float32Array;
  /** How many ids the model ranked strictly above the actual next token (0: its top choice). */
  rank: Uint32Array;
  /** The model's top choice at each position (lowest id on ties). */
  argmax: Uint32Array;
}

/**
 * Scores every token of each sequence given the ones before it — log-probability, entropy of
 * the prediction, rank of the actual token and the top choice — with the log-softmax and the
 * gathers done on the GPU: only these `[tokens]`-sized arrays come back, never the logits. The
 * sequences run as one packed batch.
 *
 * @example
 * ```ts
 * const [a, b] = await scoreTokens(model, [idsA, idsB]);
 * const loss = -a.logprob.reduce((s, x) => s + x, 0) / a.logprob.length;
 * const top1 = b.rank.filter((r) => r === 0).length / b.rank.length; // next-token accuracy
 * ```
 */
export async function scoreTokens(model: NeoXModel, batch: Batch): Promise<TokenScores[]> {
  // More tokens than one step's activations hold on this device: groups of whole sequences, in
  // order (a single sequence too long for a step is refused by hiddenBatch, naming the limit).
  const limit = stepTokenLimit(
    model.config,
    model.device.limits.maxStorageBufferBindingSize,
    false,
  );
  if (batch.length > 1 && batch.reduce((n, s) => n + s.length, 0) > limit) {
    const out: TokenScores[] = [];
    let group: Array<ArrayLike<number>> = [];
    let used = 0;
    for (const sequence of [...batch, undefined]) {
      if (sequence === undefined || (used + sequence.length > limit && group.length > 0)) {
        out.push(...(await scoreTokens(model, group)));
        group = [];
        used = 0;
      }
      if (sequence === undefined) break;
      group.push(sequence);
      used += sequence.length;
    }
    return out;
  }
  const { hidden, counts } = model.hiddenBatch(batch, {});
  // Row t of each sequence predicts its token t + 1; its last row predicts nothing here.
  const rows: number[] = [];
  const targets: number[] = [];
  const starts = rowStarts(counts);
  batch.forEach((ids, i) => {
    for (let t = 0; t + 1 < counts[i]!; t++) {
      rows.push(starts[i]! + t);
      targets.push(ids[t + 1]!);
    }
  });
  const read =
    rows.length > 0
      ? unembedScores(model, hidden, Uint32Array.from(rows), { targets: Uint32Array.from(targets) })
      : undefined;
  hidden.dispose();
  const scores = await read;
  let at = 0;
  return counts.map((count) => {
    const n = Math.max(0, count - 1);
    const range = [at, at + n] as const;
    at += n;
    return {
      logprob: scores?.targetLogprob?.slice(...range) ?? new Float32Array(0),
      entropy: scores?.entropy.slice(...range) ?? new Float32Array(0),
      rank: scores?.rank?.slice(...range) ?? new Uint32Array(0),
      argmax: scores?.argmax.slice(...range) ?? new Uint32Array(0),
    };
  });
}

/**
 * Log-probability of each token given the ones before it: `[log p(ids[1] | ids[0]), …]`, length
 * `ids.length − 1` (natural log; the loss is its negative mean). Computed on the GPU (see
 * {@link scoreTokens}); a batch (an array of sequences) runs packed and gives one array each.
 */
export async function tokenLogprobs(
  model: NeoXModel,
  ids: ArrayLike<number>,
): Promise<Float64Array>;
export async function tokenLogprobs(model: NeoXModel, batch: Batch): Promise<Float64Array[]>;
export async function tokenLogprobs(
  model: NeoXModel,
  ids: ArrayLike<number> | Batch,
): Promise<Float64Array | Float64Array[]> {
  const scores = await scoreTokens(model, isBatch(ids) ? ids : [ids]);
  const out = scores.map((s) => Float64Array.from(s.logprob));
  return isBatch(ids) ? out : out[0]!;
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
