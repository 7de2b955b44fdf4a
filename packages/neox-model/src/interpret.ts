import { copy, type Tensor } from '@pythiajs/tensor-core';
import { stepTokenLimit } from './batch.js';
import { DeviceActivationCache } from './device-activation-cache.js';
import { ForwardError } from './errors.js';
import { type Activation, HookedActivation } from './hooked-activation.js';
import { type HookRunner, hookAxes, hookNames } from './hooks.js';
import type { NeoXModel } from './model.js';
import { unembedScores } from './unembed-scores.js';

/** Several token sequences, of any lengths, run as one packed batch. */
export type Batch = ReadonlyArray<ArrayLike<number>>;

/** A batch is an array of sequences; a single sequence is an array (or typed array) of ids. */
export function isBatch(ids: ArrayLike<number> | Batch): ids is Batch {
  return Array.isArray(ids) && ids.length > 0 && typeof ids[0] !== 'number';
}

/** Where each sequence's rows are in the packed rows of a batch. */
export function rowStarts(counts: readonly number[]): number[] {
  const starts: number[] = [];
  let at = 0;
  for (const c of counts) {
    starts.push(at);
    at += c;
  }
  return starts;
}

/** The activations a run recorded, by hook name. */
export type ActivationCache = Map<string, Activation>;

/** Hook points by name, or a test of each name (as TransformerLens' `names_filter`). */
export type HookNames = Iterable<string> | ((name: string) => boolean);

/** The hook points of `model` that `names` asks for; an unknown name is an error. */
export function resolveHookNames(model: NeoXModel, names: HookNames): Set<string> {
  const all = hookNames(model.config.numLayers, model.config.parallelResidual);
  if (typeof names === 'function') return new Set(all.filter((n) => names(n)));
  const valid = new Set(all);
  const wanted = new Set(names);
  for (const name of wanted) {
    if (!valid.has(name)) {
      throw new ForwardError(
        `no hook point ${JSON.stringify(name)}; hook points are hook_embed, blocks.{0…${model.config.numLayers - 1}}.` +
          '{hook_resid_pre, ln1.hook_scale, ln1.hook_normalized, attn.hook_q/k/v, attn.hook_rot_q/k, attn.hook_attn_scores, ' +
          'attn.hook_pattern, attn.hook_z, attn.hook_result, hook_attn_out, ' +
          `${model.config.parallelResidual ? '' : 'hook_resid_mid, '}ln2.hook_scale, ln2.hook_normalized, mlp.hook_pre, mlp.hook_post, ` +
          'hook_mlp_out, hook_resid_post}, ln_final.hook_scale and ln_final.hook_normalized',
      );
    }
  }
  return wanted;
}

/**
 * One sequence's share of an activation of a packed batch: rows `start … start + count − 1` of
 * `[tokens, …]`, or of the middle axis of `[heads, tokens, keys]` (patterns and scores, keeping
 * the sequence's own `count` keys, which come first: a batch without cache starts every
 * sequence at position 0).
 */
function sliceSequence(name: string, a: Activation, start: number, count: number): Activation {
  if (hookAxes(name)[0] === 'head') {
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
  const width = a.shape.slice(1).reduce((x, y) => x * y, 1);
  return {
    data: a.data.slice(start * width, (start + count) * width),
    shape: [count, ...a.shape.slice(1)],
  };
}

/** What a run gives back (TransformerLens' `return_type`). */
export type RunReturns = 'logits' | 'loss' | 'loss-per-token' | 'none';

/** Options of {@link runWithHooks} and {@link runWithCache}. */
export interface RunOptions {
  /**
   * `'logits'` (default), `'loss'` (the mean next-token loss in nats, one number per sequence),
   * `'loss-per-token'` (−log p(ids[t + 1] | ids[0…t]) for each t, length `ids.length − 1`,
   * computed on the GPU: no logits come back) or `'none'` (only the hooks' effects and reads).
   */
  returns?: RunReturns;
  /** With `returns: 'logits'`: every position's (default) or only the last. */
  logits?: 'all' | 'last';
  /**
   * Run blocks 0 … n − 1 only and return the residual stream entering block n
   * (`blocks.{n}.hook_resid_pre`, `[tokens × d_model]`) instead of `returns`; hook points after
   * it are not reached. `numLayers` returns the last block's output, before `ln_final`.
   */
  stopAtLayer?: number;
  /**
   * Start at block n from `residual`, the residual stream entering it (`[Σ tokens × d_model]`,
   * packed for a batch, e.g. `blocks.{n}.hook_resid_pre` of an earlier run, f32 on the CPU or
   * the GPU), as TransformerLens' `start_at_layer`: the embedding and blocks 0 … n − 1 are
   * skipped, and their hooks do not run. `ids` still give the sequences' lengths (and the loss
   * its targets).
   */
  startAtLayer?: { layer: number; residual: Float32Array | Tensor<'f32'> };
}

/** What a run returns for one sequence, given its options. */
export type RunResult<O extends RunOptions> = O extends { stopAtLayer: number }
  ? Float32Array
  : O extends { returns: 'loss' }
    ? number
    : O extends { returns: 'none' }
      ? undefined
      : Float32Array;

/**
 * The residual a run starts from (`startAtLayer`), checked against the model and the batch and
 * made the pass's own: uploaded, or copied from the caller's GPU tensor.
 */
function startResidual(
  model: NeoXModel,
  sequences: Batch,
  start: RunOptions['startAtLayer'],
): { layer: number; residual: Tensor<'f32'> } | undefined {
  if (start === undefined) return undefined;
  const { numLayers, hiddenSize } = model.config;
  const { layer, residual } = start;
  if (!Number.isInteger(layer) || layer < 0 || layer >= numLayers) {
    throw new ForwardError(
      `startAtLayer's layer must be an integer from 0 to ${numLayers - 1}, got ${layer}`,
    );
  }
  const tokens = sequences.reduce((n, s) => n + s.length, 0);
  const size = residual instanceof Float32Array ? residual.length : residual.size;
  if (size !== tokens * hiddenSize) {
    throw new ForwardError(
      `startAtLayer's residual has ${size} values; the batch needs [${tokens} tokens × ${hiddenSize}] = ${tokens * hiddenSize}`,
    );
  }
  const own =
    residual instanceof Float32Array
      ? model.device.tensor(residual, [tokens, hiddenSize])
      : copy(residual.reshape([tokens, hiddenSize]));
  return { layer, residual: own };
}

/**
 * Runs a packed batch with `runner` and gives each sequence what `options` asks for. The step
 * limit is the hidden states' (a larger batch is refused with the limit named: hooks see one step).
 */
async function run(
  model: NeoXModel,
  sequences: Batch,
  runner: HookRunner,
  options: RunOptions,
): Promise<Array<Float32Array | number | undefined>> {
  const { returns = 'logits', stopAtLayer } = options;
  const startAt = startResidual(model, sequences, options.startAtLayer);
  const forward = { hooks: runner, startAt };
  if (stopAtLayer !== undefined) {
    const layers = model.config.numLayers;
    if (!Number.isInteger(stopAtLayer) || stopAtLayer < 0 || stopAtLayer > layers) {
      throw new ForwardError(
        `stopAtLayer must be an integer from 0 to ${layers}, got ${stopAtLayer}`,
      );
    }
    if (startAt && stopAtLayer < startAt.layer) {
      throw new ForwardError(
        `stopAtLayer ${stopAtLayer} comes before startAtLayer ${startAt.layer}`,
      );
    }
    const { hidden, counts } = model.hiddenBatch(sequences, { ...forward, stopAtLayer });
    const data = await hidden.read().finally(() => hidden.dispose());
    const width = model.config.hiddenSize;
    const starts = rowStarts(counts);
    return counts.map((c, i) => data.slice(starts[i]! * width, (starts[i]! + c) * width));
  }
  switch (returns) {
    case 'logits':
      return model.forwardBatch(sequences, { ...forward, logits: options.logits ?? 'all' });
    case 'loss':
    case 'loss-per-token': {
      const scores = await scoreBatch(model, sequences, forward);
      return scores.map(({ logprob }) => {
        const losses = logprob.map((lp) => -lp);
        if (returns === 'loss-per-token') return losses;
        return losses.reduce((a, b) => a + b, 0) / Math.max(1, losses.length);
      });
    }
    case 'none': {
      const { hidden } = model.hiddenBatch(sequences, forward);
      hidden.dispose();
      await model.device.flush();
      return sequences.map(() => undefined);
    }
    default:
      throw new ForwardError(
        `returns must be 'logits', 'loss', 'loss-per-token' or 'none', got ${String(returns)}`,
      );
  }
}

/**
 * Runs the model on `ids` and reads back the activations at `names` (TransformerLens hook names,
 * e.g. `blocks.3.hook_resid_post`, `blocks.0.attn.hook_pattern`, or a filter function). Only
 * those are read back; hooks that are not asked for keep the fused fast path. `options` says
 * what else comes back, as for {@link runWithHooks}.
 *
 * Given a batch (an array of sequences), the sequences run packed in one pass and each gets its
 * own result and activations, with the shapes a run on it alone gives.
 *
 * @example
 * ```ts
 * const { logits, cache } = await runWithCache(model, ids, { names: ['blocks.0.attn.hook_pattern'] });
 * cache.get('blocks.0.attn.hook_pattern'); // { data, shape: [heads, tokens, tokens] }
 * const batch = await runWithCache(model, [idsA, idsB], { names: ['blocks.3.hook_resid_post'] });
 * batch.caches[1].get('blocks.3.hook_resid_post'); // idsB's, [idsB.length, hidden]
 * const { logits: loss } = await runWithCache(model, ids, { names: (n) => n.endsWith('hook_z'), returns: 'loss' });
 * ```
 */
export async function runWithCache<O extends RunOptions = Record<never, never>>(
  model: NeoXModel,
  ids: ArrayLike<number>,
  options: { names: HookNames } & O,
): Promise<{ logits: RunResult<O>; cache: ActivationCache }>;
export async function runWithCache<O extends RunOptions = Record<never, never>>(
  model: NeoXModel,
  batch: Batch,
  options: { names: HookNames } & O,
): Promise<{ logits: RunResult<O>[]; caches: ActivationCache[] }>;
export async function runWithCache(
  model: NeoXModel,
  ids: ArrayLike<number> | Batch,
  options: { names: HookNames } & RunOptions,
): Promise<
  { logits: unknown; cache: ActivationCache } | { logits: unknown[]; caches: ActivationCache[] }
> {
  const wanted = resolveHookNames(model, options.names);
  const reads: Array<[string, readonly number[], Promise<Float32Array>]> = [];
  const hooks: HookRunner = {
    wants: (name) => wanted.has(name),
    visit: (name, t) => {
      reads.push([name, t.shape, t.read()]);
      return t;
    },
  };
  const sequences = isBatch(ids) ? ids : [ids];
  const results = await run(model, sequences, hooks, options);
  const packed: ActivationCache = new Map();
  for (const [name, shape, data] of reads)
    packed.set(name, { data: await data, shape: [...shape] });
  if (!isBatch(ids)) return { logits: results[0], cache: packed };
  const counts = sequences.map((s) => s.length);
  const starts = rowStarts(counts);
  const caches = counts.map((count, i) => {
    const cache: ActivationCache = new Map();
    for (const [name, a] of packed) cache.set(name, sliceSequence(name, a, starts[i]!, count));
    return cache;
  });
  return { logits: results, caches };
}

/**
 * {@link runWithCache} of one sequence that keeps the activations on the GPU: a
 * {@link DeviceActivationCache}, whose entries hooks take as values with no round trip through
 * the CPU (patching, e.g. by `activationPatching`). Dispose it when done.
 *
 * @example
 * ```ts
 * const { cache } = await runWithDeviceCache(model, clean, { names: (n) => n.endsWith('hook_z') });
 * const grid = await activationPatching(model, { corrupt, clean: cache, activation: 'z', by: 'head', metric });
 * cache.dispose();
 * ```
 */
export async function runWithDeviceCache<O extends RunOptions = Record<never, never>>(
  model: NeoXModel,
  ids: ArrayLike<number>,
  options: { names: HookNames } & O,
): Promise<{ logits: RunResult<O>; cache: DeviceActivationCache }> {
  if (isBatch(ids)) {
    throw new ForwardError(
      'runWithDeviceCache takes one sequence; for a batch use runWithCache, which gives a cache per sequence',
    );
  }
  const wanted = resolveHookNames(model, options.names);
  const cache = new DeviceActivationCache();
  const hooks: HookRunner = {
    wants: (name) => wanted.has(name),
    visit: (name, t) => {
      cache.keep(name, t);
      return t;
    },
  };
  try {
    const [result] = await run(model, [ids], hooks, options);
    return { logits: result as RunResult<O>, cache };
  } catch (error) {
    cache.dispose();
    throw error;
  }
}

/** A hook function: changes the activation through `activation`'s methods. */
export type Hook = (activation: HookedActivation) => void;

/** The hook runner of a set of hook functions (checked against the model's hook points). */
export function hookRunner(model: NeoXModel, hooks: Record<string, Hook | Hook[]>): HookRunner {
  const wanted = resolveHookNames(model, Object.keys(hooks));
  return {
    wants: (name) => wanted.has(name),
    visit: (name, t, step) => {
      const activation = new HookedActivation(name, t, step);
      const fns = hooks[name]!;
      for (const fn of Array.isArray(fns) ? fns : [fns]) fn(activation);
      return activation.result();
    },
  };
}

/**
 * Runs the model with hooks that change activations on the GPU (ablation, patching, steering;
 * see {@link HookedActivation}) and returns the logits `[tokens × vocab]`, or what `options`
 * asks for: the loss, the loss per token, the residual stream at a layer (`stopAtLayer`), or
 * nothing. Every hook point's returned activation is what the rest of the pass uses.
 *
 * Given a batch (an array of sequences), the sequences run packed in one pass and each gets its
 * result. Hooks then see the packed activation, `[Σ tokens, …]` sequence after sequence, and
 * select sequences with `{ batch }`; full values must be given packed the same way.
 *
 * @example
 * ```ts
 * // Zero-ablate head 3 of layer 1 and compare the loss.
 * const loss = await runWithHooks(model, ids, { 'blocks.1.attn.hook_z': (a) => a.zero({ head: 3 }) }, { returns: 'loss' });
 * // Patch position 2 of the residual stream from another run's cache.
 * const logits = await runWithHooks(model, corrupt, {
 *   'blocks.1.hook_resid_pre': (a) => a.set(clean.get('blocks.1.hook_resid_pre')!, { pos: 2 }),
 * }, { logits: 'last' });
 * ```
 */
export async function runWithHooks<O extends RunOptions = Record<never, never>>(
  model: NeoXModel,
  ids: ArrayLike<number>,
  hooks: Record<string, Hook | Hook[]>,
  options?: O,
): Promise<RunResult<O>>;
export async function runWithHooks<O extends RunOptions = Record<never, never>>(
  model: NeoXModel,
  batch: Batch,
  hooks: Record<string, Hook | Hook[]>,
  options?: O,
): Promise<RunResult<O>[]>;
export async function runWithHooks(
  model: NeoXModel,
  ids: ArrayLike<number> | Batch,
  hooks: Record<string, Hook | Hook[]>,
  options: RunOptions = {},
): Promise<unknown> {
  const results = await run(model, isBatch(ids) ? ids : [ids], hookRunner(model, hooks), options);
  return isBatch(ids) ? results : results[0];
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
  return scoreBatch(model, batch);
}

/** {@link scoreTokens} of a batch that fits one step, through `hooks` if given. */
async function scoreBatch(
  model: NeoXModel,
  batch: Batch,
  forward: Parameters<NeoXModel['hiddenBatch']>[1] = {},
): Promise<TokenScores[]> {
  const { hidden, counts } = model.hiddenBatch(batch, forward);
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
