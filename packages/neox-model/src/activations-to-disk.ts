import {
  type RandomAccessSink,
  SafetensorsWriter,
  type TensorDeclaration,
  type TensorRows,
} from '@pythiajs/checkpoint-hub';
import { f32ArrayToF16Bits } from '@pythiajs/tensor-core';
import { stepTokenLimit } from './batch.js';
import type { NeoXConfig } from './config.js';
import { ForwardError, InvalidInputError } from './errors.js';
import { type HookRunner, hookNames } from './hooks.js';
import type { KVCache } from './kv-cache.js';
import type { NeoXModel } from './model.js';
import { checkTokenIds } from './token-ids.js';

/** Hook points whose activation has no position axis first: `[heads, dest, src]`. */
const NO_POSITION_AXIS = /(^|\.)attn\.hook_(pattern|attn_scores)$/;

/** Tokens per forward step when not given (and the device's largest binding allows). */
const DEFAULT_TOKENS_PER_STEP = 2048;

/** Metadata keys {@link writeActivations} writes itself. */
const OWN_METADATA = [
  'producer',
  'model',
  'revision',
  'commit',
  'weights_dtype',
  'dtype',
  'hook_names',
  'context',
  'windowing',
  'sequences',
  'tokens',
] as const;

/** Options of {@link writeActivations}. */
export interface WriteActivationsOptions {
  /**
   * Hook points (see `hookNames`): exact names, or patterns where `*` matches any characters
   * (dots included), e.g. `blocks.*.hook_resid_post`. Each is written once, in the order given
   * (a pattern's matches in the model's order).
   */
  names: readonly string[];
  /** Where the file goes (`fileSink(path)` of `@pythiajs/checkpoint-hub/node`, `memorySink()`). */
  sink: RandomAccessSink;
  /** Element type of the activations in the file; default `f32`. `f16` halves the file. */
  dtype?: 'f32' | 'f16';
  /**
   * Tokens of each window (default: the model's context, `maxPositions`). A longer sequence is
   * cut into consecutive, non-overlapping windows of this many tokens (the last may be shorter),
   * each run from position 0 without the tokens before it.
   */
  context?: number;
  /**
   * Tokens each forward step runs (default 2048), which bounds memory: every hook point's
   * activations of one step are on the GPU and in memory at once (about `tokensPerStep × Σ row
   * sizes × 4` bytes), and up to one more step's while it is being written. At most what the
   * device's largest binding allows for this model. Whole windows are packed into a step; a
   * window longer than a step runs alone over several, continuing in a KV cache.
   */
  tokensPerStep?: number;
  /** More `__metadata__` (strings); the keys this function writes itself are refused. */
  metadata?: Record<string, string>;
  /** Called after each step is written. */
  onProgress?: (progress: ActivationsProgress) => void;
  /** Stops between two steps: the sink is aborted and the call rejects with the reason. */
  signal?: AbortSignal;
}

/** Progress of {@link writeActivations}, after each forward step. */
export interface ActivationsProgress {
  /** Tokens written (rows of each tensor). */
  tokens: number;
  totalTokens: number;
  /** Forward steps run. */
  steps: number;
}

/** What {@link writeActivations} wrote. */
export interface WrittenActivations {
  /** The hook points written, in file order of the request. */
  names: string[];
  /** Each tensor's shape: the hook points', `input_ids` and `sequence_starts`. */
  shapes: Record<string, number[]>;
  /** Tokens of all sequences: the rows of each hook point's tensor. */
  tokens: number;
  sequences: number;
  /** Windows run (see `context`). */
  windows: number;
  /** Forward steps run. */
  steps: number;
  /** Bytes of the file. */
  bytes: number;
  /** The file's `__metadata__`. */
  metadata: Record<string, string>;
}

/** A window of a sequence: tokens `[start, end)` of sequence `sequence`. */
interface Window {
  sequence: number;
  start: number;
  end: number;
}

/** One forward step: whole windows packed, or one chunk of a window longer than a step. */
type Step =
  | { kind: 'packed'; windows: Window[]; tokens: number }
  | { kind: 'chunk'; window: Window; from: number; to: number; tokens: number };

/**
 * The hook points `patterns` name for a model of this config (see
 * {@link WriteActivationsOptions.names}), checked as {@link writeActivations} checks them, so a
 * caller can refuse a mistake from `config.json` alone, before the weights are loaded.
 *
 * @example
 * ```ts
 * resolveActivationNames(model.config, ['blocks.*.hook_resid_post', 'hook_embed']);
 * // ['blocks.0.hook_resid_post', 'blocks.1.hook_resid_post', …, 'hook_embed']
 * ```
 * @throws {InvalidInputError} no names, a name that is no hook point, a pattern that matches
 *   none, or only attention patterns (`[heads, dest, src]`: no rows to write; read them with
 *   `runWithCache` or `attentionPatterns`). The message lists the hook points there are.
 */
export function resolveActivationNames(
  config: Pick<NeoXConfig, 'numLayers' | 'parallelResidual'>,
  patterns: readonly string[],
): string[] {
  const valid = hookNames(config.numLayers, config.parallelResidual);
  const listing = () => {
    const generic = [...new Set(valid.map((n) => n.replace(/^blocks\.\d+\./, 'blocks.*.')))].filter(
      (n) => !NO_POSITION_AXIS.test(n),
    );
    return (
      `the hook points written as rows are ${generic.join(', ')} (blocks 0…${config.numLayers - 1}; ` +
      '* matches any characters)'
    );
  };
  if (patterns.length === 0)
    throw new InvalidInputError(`give at least one hook point to write; ${listing()}`);
  const out = new Set<string>();
  for (const pattern of patterns) {
    const glob = pattern.includes('*');
    const matched = glob
      ? valid.filter((n) => globRegExp(pattern).test(n))
      : valid.filter((n) => n === pattern);
    if (matched.length === 0) {
      throw new InvalidInputError(
        `${glob ? 'the pattern' : 'no hook point'} ${JSON.stringify(pattern)}${glob ? ' matches no hook point' : ''}; ${listing()}`,
      );
    }
    const rows = matched.filter((n) => !NO_POSITION_AXIS.test(n));
    if (rows.length === 0) {
      throw new InvalidInputError(
        `${JSON.stringify(pattern)} is an attention pattern or score, [heads, dest, src], with no ` +
          'position axis to write as rows; read patterns with runWithCache or attentionPatterns ' +
          '(pythia lens --attention)',
      );
    }
    for (const n of rows) out.add(n);
  }
  return [...out];
}

function globRegExp(pattern: string): RegExp {
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`);
}

/**
 * Runs the model over token sequences (or one long sequence) and streams the activations at
 * hook points to a safetensors file, with memory bounded by `tokensPerStep` whatever the length
 * of the input. Python reads the file with `safetensors.numpy.load_file` (or `safe_open` for
 * one tensor at a time). It holds:
 *
 * - one tensor per hook point, `[total_tokens, …]` (e.g. `[T, d_model]`, `[T, heads, d_head]`):
 *   the rows of every sequence in input order, one after another, F32 or F16 (`dtype`);
 * - `input_ids`, I32 `[total_tokens]`: the token of each row;
 * - `sequence_starts`, I64 `[sequences + 1]`: sequence i is rows `starts[i] … starts[i+1] − 1`;
 * - `__metadata__`: the model (`model`, `revision`, `commit`, `weights_dtype`), `dtype`,
 *   `hook_names` (comma-separated), `context` and `windowing` (how long sequences were cut),
 *   `sequences`, `tokens`, `producer`, and `metadata`'s own keys.
 *
 * A sequence longer than `context` is cut into windows, each run fresh from position 0; row
 * `starts[i] + t` then belongs to the window `⌊t / context⌋` of sequence i. Empty sequences are
 * allowed (no rows). On any error, or when `signal` aborts, the sink is aborted (a file sink
 * removes its partial file) and the error is rethrown, so no half-written file is left.
 *
 * @example
 * ```ts
 * import { fileSink } from '@pythiajs/checkpoint-hub/node';
 * await writeActivations(model, tokenizer.encode(book), {
 *   names: ['blocks.*.hook_resid_post'],
 *   sink: await fileSink('acts.safetensors'),
 *   dtype: 'f16',
 * });
 * // Python: safetensors.numpy.load_file('acts.safetensors')['blocks.3.hook_resid_post'].shape
 * ```
 * @throws {InvalidInputError} names as {@link resolveActivationNames} refuses them, no tokens
 *   at all, an id outside the vocabulary, a `context`, `tokensPerStep` or `dtype` out of range,
 *   or metadata keys this function writes itself.
 * @throws {ForwardError} a hook point whose activation has no position axis first.
 * @throws the sink's errors (a full disk …) and the device's.
 */
export async function writeActivations(
  model: NeoXModel,
  input: ArrayLike<number> | ReadonlyArray<ArrayLike<number>>,
  options: WriteActivationsOptions,
): Promise<WrittenActivations> {
  const { sink, signal } = options;
  let writer: SafetensorsWriter | undefined;
  let cache: KVCache | undefined;
  try {
    signal?.throwIfAborted();
    const { config } = model;
    const names = resolveActivationNames(config, options.names);
    const dtype = options.dtype ?? 'f32';
    if (dtype !== 'f32' && dtype !== 'f16')
      throw new InvalidInputError(`dtype ${String(dtype)}: activations are written as f32 or f16`);
    const context = options.context ?? config.maxPositions;
    if (!Number.isSafeInteger(context) || context < 1 || context > config.maxPositions)
      throw new InvalidInputError(
        `context ${context}: windows hold 1 to ${config.maxPositions} tokens (the model's context)`,
      );
    const limit = stepTokenLimit(config, model.device.limits.maxStorageBufferBindingSize, false);
    const asked = options.tokensPerStep ?? DEFAULT_TOKENS_PER_STEP;
    if (!Number.isSafeInteger(asked) || asked < 1)
      throw new InvalidInputError(`tokensPerStep ${asked}: give a whole number of tokens ≥ 1`);
    const perStep = Math.min(asked, limit);
    const extra = options.metadata ?? {};
    const taken = OWN_METADATA.filter((k) => Object.hasOwn(extra, k));
    if (taken.length > 0)
      throw new InvalidInputError(
        `metadata ${taken.join(', ')}: writeActivations writes ${taken.length === 1 ? 'this key' : 'these keys'} itself; use other names`,
      );

    // The ids, checked against the vocabulary before anything runs.
    const isBatch = Array.isArray(input) && input.length > 0 && typeof input[0] !== 'number';
    const given = (isBatch ? input : [input]) as ReadonlyArray<ArrayLike<number>>;
    const sequences = given.map((ids, i) => {
      if (ids.length === 0) return new Uint32Array(0);
      try {
        return checkTokenIds(ids, config, { room: Number.POSITIVE_INFINITY });
      } catch (error) {
        if (error instanceof InvalidInputError && given.length > 1)
          error.message = `sequence ${i}: ${error.message}`;
        throw error;
      }
    });
    const starts = [0];
    for (const s of sequences) starts.push(starts.at(-1)! + s.length);
    const total = starts.at(-1)!;
    if (total === 0)
      throw new InvalidInputError('the input has no tokens; give at least one sequence of ids');

    const windows: Window[] = [];
    sequences.forEach((s, sequence) => {
      for (let start = 0; start < s.length; start += context)
        windows.push({ sequence, start, end: Math.min(s.length, start + context) });
    });

    const metadata: Record<string, string> = {
      ...extra,
      producer: 'pythiajs writeActivations',
      model: model.source.repo,
      revision: model.source.revision,
      commit: model.source.commit,
      weights_dtype: model.dtype,
      dtype,
      hook_names: names.join(','),
      context: String(context),
      windowing:
        `each sequence is cut into consecutive, non-overlapping windows of ${context} tokens ` +
        '(the last may be shorter), each run from position 0 without the tokens before it',
      sequences: String(sequences.length),
      tokens: String(total),
    };
    const shapes: Record<string, number[]> = {};
    const wanted = new Set(names);
    let row = 0;
    let steps = 0;
    // The writes of the step before, finishing while the next step runs on the GPU.
    let writing: Promise<unknown> = Promise.resolve();

    for (const step of planSteps(windows, perStep)) {
      signal?.throwIfAborted();
      const reads = new Map<string, { shape: number[]; data: Promise<Float32Array> }>();
      const hooks: HookRunner = {
        wants: (name) => wanted.has(name),
        visit: (name, t) => {
          const data = t.read();
          // Awaited below; a failure before then must not be an unhandled rejection.
          data.catch(() => {});
          reads.set(name, { shape: [...t.shape], data });
          return t;
        },
      };
      let ids: Uint32Array[];
      if (step.kind === 'packed') {
        ids = step.windows.map((w) => sequences[w.sequence]!.subarray(w.start, w.end));
        model.hiddenBatch(ids, { hooks }).hidden.dispose();
      } else {
        const { window, from, to } = step;
        if (from === window.start) cache = model.createCache(window.end - window.start);
        ids = [sequences[window.sequence]!.subarray(from, to)];
        model.hiddenBatch(ids, { hooks, cache }).hidden.dispose();
        if (to === window.end) {
          cache?.dispose();
          cache = undefined;
        }
      }
      await writing;
      const values = new Map<string, Float32Array>();
      for (const name of names) {
        const read = reads.get(name);
        if (!read) throw new ForwardError(`the forward pass did not reach hook point ${name}`);
        const [rows, ...rest] = read.shape;
        if (rows !== step.tokens) {
          throw new ForwardError(
            `${name} has shape [${read.shape.join(', ')}], whose first axis is not the step's ` +
              `${step.tokens} positions, so it cannot be written as rows; read it with runWithCache`,
          );
        }
        const declared = shapes[name];
        if (declared && declared.slice(1).join() !== rest.join()) {
          throw new ForwardError(
            `${name} has rows of shape [${rest.join(', ')}] in one step and [${declared.slice(1).join(', ')}] in another`,
          );
        }
        shapes[name] = [total, ...rest];
        values.set(name, await read.data);
      }
      writer ??= await createWriter(sink, names, shapes, dtype, total, starts, metadata);
      const active = writer;
      const writes: Array<Promise<void>> = [];
      for (const [name, data] of values) {
        const rows: TensorRows = dtype === 'f16' ? f32ArrayToF16Bits(data) : data;
        writes.push(active.writeRows(name, row, rows));
      }
      let at = row;
      for (const part of ids) {
        writes.push(
          active.writeRows(
            'input_ids',
            at,
            new Int32Array(part.buffer, part.byteOffset, part.length),
          ),
        );
        at += part.length;
      }
      writing = Promise.all(writes);
      writing.catch(() => {});
      row += step.tokens;
      steps++;
      const done = { tokens: row, totalTokens: total, steps };
      writing = writing.then(() => options.onProgress?.(done));
      writing.catch(() => {});
    }
    await writing;
    await writer!.finish();
    return {
      names,
      shapes: {
        ...shapes,
        input_ids: [total],
        sequence_starts: [sequences.length + 1],
      },
      tokens: total,
      sequences: sequences.length,
      windows: windows.length,
      steps,
      bytes: writer!.size,
      metadata: { ...writer!.metadata },
    };
  } catch (error) {
    cache?.dispose();
    try {
      await (writer ? writer.abort() : sink.abort());
    } catch {
      // The error that stopped the run is the one to report.
    }
    throw error;
  }
}

/** The file's layout, once the first step has shown each hook point's row shape. */
async function createWriter(
  sink: RandomAccessSink,
  names: readonly string[],
  shapes: Record<string, number[]>,
  dtype: 'f32' | 'f16',
  total: number,
  starts: readonly number[],
  metadata: Record<string, string>,
): Promise<SafetensorsWriter> {
  const tensors: TensorDeclaration[] = names.map((name) => ({
    name,
    dtype: dtype === 'f16' ? 'F16' : 'F32',
    shape: shapes[name]!,
  }));
  tensors.push(
    { name: 'input_ids', dtype: 'I32', shape: [total] },
    { name: 'sequence_starts', dtype: 'I64', shape: [starts.length] },
  );
  const writer = await SafetensorsWriter.create(sink, tensors, { metadata });
  await writer.writeRows(
    'sequence_starts',
    0,
    BigInt64Array.from(starts, (s) => BigInt(s)),
  );
  return writer;
}

/**
 * The forward steps over `windows`, in order: whole windows packed while they fit in `limit`
 * tokens; a window longer than that alone, in chunks of `limit` that continue in its KV cache.
 */
function* planSteps(windows: readonly Window[], limit: number): Generator<Step> {
  let packed: Window[] = [];
  let used = 0;
  for (const window of windows) {
    const length = window.end - window.start;
    if (used > 0 && (length > limit || used + length > limit)) {
      yield { kind: 'packed', windows: packed, tokens: used };
      packed = [];
      used = 0;
    }
    if (length > limit) {
      for (let from = window.start; from < window.end; from += limit) {
        const to = Math.min(window.end, from + limit);
        yield { kind: 'chunk', window, from, to, tokens: to - from };
      }
      continue;
    }
    packed.push(window);
    used += length;
  }
  if (used > 0) yield { kind: 'packed', windows: packed, tokens: used };
}
