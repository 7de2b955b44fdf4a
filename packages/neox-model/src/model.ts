import {
  type Checkpoint,
  type CheckpointProgress,
  type CheckpointStore,
  type DerivedFileStore,
  openCheckpoint,
} from '@pythiajs/checkpoint-hub';
import {
  createDevice,
  type Device,
  type DeviceOptions,
  embedding,
  GpuExecutionError,
  matmul,
  type Tensor,
} from '@pythiajs/tensor-core';
import { packStep, planSteps, stepTokenLimit, unpad } from './batch.js';
import { checkpointConfig } from './checkpoint-config.js';
import type { NeoXConfig } from './config.js';
import { ForwardError, InvalidInputError, OutOfMemoryError } from './errors.js';
import { forwardHidden } from './forward.js';
import type { HookRunner } from './hooks.js';
import { KVCache } from './kv-cache.js';
import { estimateMemory, formatBytes } from './memory.js';
import { type ModelSource, resolveModelSource } from './model-source.js';
import {
  defaultQuantizedStore,
  type QuantizedCacheEvent,
  uploadThroughQuantizedCache,
} from './quantized-cache.js';
import { checkpointDtype } from './weight-dtype.js';
import {
  checkQuantizable,
  disposeWeights,
  isQuantized,
  type NeoXWeights,
  type UploadOptions,
  uploadWeights,
  type WeightDtype,
} from './weights.js';

/** Progress of {@link NeoXModel.load}: downloading files, then uploading tensors to the GPU. */
export type LoadProgress =
  | ({ phase: 'download' } & CheckpointProgress)
  | { phase: 'upload'; tensor: string; loaded: number; total: number }
  | QuantizedCacheEvent;

/** Options of {@link NeoXModel.load}. */
export interface LoadOptions {
  /** Default: a new device from `createDevice(deviceOptions)`, destroyed with the model. */
  device?: Device;
  /** Options of the device created when none is given (e.g. `{ powerPreference }`, or a `gpu`). */
  deviceOptions?: DeviceOptions;
  /**
   * Weight matrices on the GPU: `f16` (2 bytes per weight) or `f32` (4). Default: the
   * checkpoint's own (see `checkpointDtype`): `f16` when every matrix is stored as F16, as in
   * Pythia's published checkpoints; `f32` for F32 or BF16 matrices, or a mix. So an f32
   * checkpoint gives the logits Hugging Face gives (within about 1e-5, where f16 weights are off
   * by about 1e-2); `'f16'` halves its memory. LayerNorm parameters and biases are f32 always.
   *
   * `q8` and `q4` quantize on load, any checkpoint (f16, bf16 or f32), in blocks of 32 weights
   * with a scale each (tensor-core's `QuantizedTensor`: `QuantizedTensor.bytesPerWeight` bytes per
   * weight, about a half and a quarter of f16): the matrices of every block (`query_key_value`,
   * `dense`, `dense_h_to_4h`, `dense_4h_to_h`) and `embed_out`. `embed_in` stays in the
   * checkpoint's own dtype, vectors in f32, activations in f32. Each matrix is read, quantized and
   * uploaded a few MB of rows at a time, so the host holds one tensor as read and one piece.
   * Every API works on such a model (forward, generation, KV cache, scoring, hooks and edits,
   * logit lens, attribution, patching, `readParameter`), but its activations, logits and
   * parameters are those of the quantized weights: they differ from f16's by the quantization
   * error. A model whose hidden or MLP width is not a multiple of 32 cannot be quantized
   * (`UnsupportedWeightsError`, before anything is read).
   */
  dtype?: WeightDtype;
  /**
   * The revision of a Hub source (default: its `@revision`, else `main`); a `repo@revision`
   * source that names another one is a `ModelSourceError`.
   */
  revision?: string;
  /** Where files come from. Default: the Hugging Face cache in Node, the browser cache in browsers. */
  store?: CheckpointStore;
  onProgress?: (progress: LoadProgress) => void;
  signal?: AbortSignal;
  /**
   * Refuse to load when the estimated GPU memory (weights in the dtype loaded, a full-context KV
   * cache, activations) exceeds this many bytes. WebGPU does not report a device's memory, so this
   * is the caller's knowledge; without it, a failed allocation is still reported with the estimate.
   */
  memoryBudget?: number;
  /**
   * Load weights that hold NaN or ±Infinity (or, with `dtype: 'f16'`, f32/bf16 values beyond
   * ±65504 that f16 turns into Infinity). By default each tensor is scanned as it is read and
   * such a checkpoint is refused with a `NonFiniteWeightsError` naming the tensor and the first
   * bad index, since every forward pass would otherwise give NaN logits. Set this to study a
   * diverged checkpoint anyway (the scan is then skipped).
   */
  allowNonFinite?: boolean;
  /**
   * With `dtype: 'q8'` or `'q4'`: keep the quantized matrices of a Hub revision in a file, so that
   * loading that revision in that dtype again uploads them as they are instead of reading and
   * quantizing the checkpoint's (most of a quantized load's time). `true` keeps them under
   * `~/.cache/pythiajs` in Node (`PYTHIAJS_CACHE` moves it) and in the Origin Private File System
   * in browsers; or pass a `DerivedFileStore` of checkpoint-hub. The file is keyed by the
   * revision's commit (so a branch that moves gets a new one) and costs the quantized size on disk
   * (7 GB for Pythia-12B at q4): off by default, since a sweep over many revisions loads each once.
   * Local folders have no commit and are never cached. What happened is reported through
   * `onProgress` (`phase: 'quantized-cache'`); failing to write the file never fails the load.
   */
  quantizedCache?: boolean | DerivedFileStore;
}

/** Options of {@link NeoXModel.forward}. */
export interface ForwardOptions {
  /** Append to this cache (and attend to what it holds); default: a fresh one for this call. */
  cache?: KVCache;
  /** Logits of every position (default, as Hugging Face) or only of the last. */
  logits?: 'all' | 'last';
  /** Hook points to read or replace activations (see `runWithCache`, `runWithHooks`). */
  hooks?: HookRunner;
}

/** Options of {@link NeoXModel.forwardBatch}. */
export interface BatchForwardOptions {
  /**
   * Continue these sequences: a cache with one entry per sequence of the batch
   * (`createCache([…])`). Default: a fresh one sized to the batch, for this call.
   */
  cache?: KVCache;
  /** Logits of every token (default) or only of each sequence's last. */
  logits?: 'all' | 'last';
  /**
   * Hook points (see `runWithCache`). Hooks see the batch packed: activations
   * `[Σ tokens, …]`, sequence after sequence.
   */
  hooks?: HookRunner;
  /** @internal `RunOptions.startAtLayer` of the interpretability functions. */
  startAt?: { layer: number; residual: Tensor<'f32'> } | undefined;
}

/**
 * A GPT-NeoX (Pythia) model on a WebGPU device, computing what Hugging Face's
 * `GPTNeoXForCausalLM` computes.
 *
 * @example
 * ```ts
 * const model = await NeoXModel.load('pythia-70m-deduped@step3000');
 * const logits = await model.forward([12092, 13, 309, 717]); // Float32Array [4 × 50304]
 * model.dispose();
 * ```
 */
export class NeoXModel {
  private disposed = false;

  private constructor(
    readonly device: Device,
    readonly config: NeoXConfig,
    readonly weights: NeoXWeights,
    /**
     * The dtype of the weight matrices on the GPU: `q8` or `q4` for a quantized model (whose
     * `embed_in` is `weights.embedIn.dtype`).
     */
    readonly dtype: WeightDtype,
    /** Where the weights came from. */
    readonly source: { repo: string; revision: string; commit: string },
    private readonly ownsDevice: boolean,
  ) {}

  /**
   * Loads a model: a Hub repo (`EleutherAI/pythia-160m`), a suite shorthand with a checkpoint
   * (`pythia-70m-deduped@step3000`), or (in Node) a checkpoint folder: `{ folder }`, or a string
   * naming an existing directory (see `resolveModelSource`).
   *
   * Without a `device`, one is created first: where WebGPU is missing (no `webgpu` package in
   * Node, no `navigator.gpu` in a browser) that fails at once, before any file is downloaded.
   * A device created here is destroyed if the load fails, and with the model otherwise.
   *
   * @throws {WebGPUUnavailableError} no WebGPU here (nothing was downloaded).
   * @throws {NoAdapterError} WebGPU found no adapter (nothing was downloaded).
   * @throws {ModelSourceError} the source and `revision` disagree.
   * @throws {LocalFolderNotFoundError} a path that names no folder (Node).
   * @throws the errors of `openCheckpoint` (a missing repo, revision or file, a file not cached
   *   offline, a corrupt file) and of {@link fromCheckpoint}.
   */
  static async load(source: ModelSource, options: LoadOptions = {}): Promise<NeoXModel> {
    const owned = options.device === undefined;
    const device = options.device ?? (await createDevice(options.deviceOptions));
    try {
      const { repo, revision, store } = await resolveModelSource(source, {
        ...(options.revision !== undefined ? { revision: options.revision } : {}),
        ...(options.store ? { store: options.store } : {}),
        environment: device.environment,
      });
      const checkpoint = await openCheckpoint(repo, revision, store, {
        onProgress: (p) => options.onProgress?.({ phase: 'download', ...p }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      try {
        return await NeoXModel.build(checkpoint, options, { device, owned });
      } finally {
        await checkpoint.close();
      }
    } catch (error) {
      if (owned) device.destroy();
      throw error;
    }
  }

  /**
   * A model from an opened checkpoint (see `openCheckpoint` of `@pythiajs/checkpoint-hub`).
   * Everything that can be refused without a GPU is refused first, before a device is created or
   * a buffer allocated: `config.json` (out-of-bounds fields, a layer count, vocabulary or width
   * the tensors contradict: see `checkpointConfig`) and the memory budget (for the weights in the
   * dtype they load in). Then each tensor's shape is checked, and its values as they are read
   * (see `allowNonFinite`).
   *
   * @throws {InvalidConfigError} `config.json` is missing a field or has an impossible value.
   * @throws {ConfigMismatchError} `config.json` and the tensors do not belong together.
   * @throws {NonFiniteWeightsError} a weight is NaN or ±Infinity (or overflows f16).
   * @throws {OutOfMemoryError} over `memoryBudget`, or the device could not allocate.
   */
  static fromCheckpoint(
    checkpoint: Checkpoint,
    options: Omit<LoadOptions, 'store' | 'revision'> = {},
  ): Promise<NeoXModel> {
    return NeoXModel.build(checkpoint, options, undefined);
  }

  /**
   * {@link fromCheckpoint}, on the device `load` created (and owns) when `given`: a device created
   * here is destroyed on failure, a given one is the caller's to destroy.
   */
  private static async build(
    checkpoint: Checkpoint,
    options: Omit<LoadOptions, 'store' | 'revision'>,
    given: { device: Device; owned: boolean } | undefined,
  ): Promise<NeoXModel> {
    const config = checkpointConfig(checkpoint);
    const own = checkpointDtype(checkpoint);
    const dtype = options.dtype ?? own;
    checkQuantizable(config, dtype);
    const estimate = estimateMemory(config, { dtype, embedDtype: own, tokens: 128 });
    const smaller =
      dtype === 'f32'
        ? "dtype: 'f16' or 'q8'"
        : dtype === 'f16'
          ? "dtype: 'q8' or 'q4'"
          : undefined;
    const describe = () =>
      `${checkpoint.repo}@${checkpoint.revision} with ${dtype} weights needs about ${formatBytes(estimate.total)} of GPU memory ` +
      `(weights ${formatBytes(estimate.weights)}, KV cache ${formatBytes(estimate.kvCache)}, activations ${formatBytes(estimate.activations)})`;
    if (options.memoryBudget !== undefined && estimate.total > options.memoryBudget) {
      throw new OutOfMemoryError(
        `${describe()}, over the budget of ${formatBytes(options.memoryBudget)}; use a smaller model${smaller ? ` or ${smaller}` : ''}`,
      );
    }
    const creates = given === undefined && options.device === undefined;
    const device = given?.device ?? options.device ?? (await createDevice(options.deviceOptions));
    const ownsDevice = given ? given.owned : creates;
    try {
      const upload: UploadOptions = {
        dtype,
        ...(isQuantized(dtype) ? { embedDtype: own } : {}),
        allowNonFinite: options.allowNonFinite ?? false,
        onTensor: (tensor, loaded, total) =>
          options.onProgress?.({ phase: 'upload', tensor, loaded, total }),
      };
      const cache = options.quantizedCache;
      const weights =
        isQuantized(dtype) && cache
          ? await uploadThroughQuantizedCache(
              checkpoint,
              config,
              device,
              { ...upload, dtype },
              cache === true ? await defaultQuantizedStore(device.environment) : cache,
              (event) => options.onProgress?.(event),
            )
          : await uploadWeights(checkpoint, config, device, upload);
      const { repo, revision, commit } = checkpoint;
      return new NeoXModel(device, config, weights, dtype, { repo, revision, commit }, ownsDevice);
    } catch (error) {
      if (creates) device.destroy();
      if (error instanceof GpuExecutionError && /memory/i.test(error.message)) {
        throw new OutOfMemoryError(
          `${describe()}, more than ${device.adapterInfo.description || 'this adapter'} could allocate; use a smaller model${smaller ? `, ${smaller}` : ''} or a GPU with more memory`,
        );
      }
      throw error;
    }
  }

  /**
   * A KV cache for up to `capacity` tokens (default: the model's context, 2048 for Pythia), or
   * for a batch: one sequence per entry of `capacity`, each with that many positions (see
   * {@link forwardBatch}).
   */
  createCache(capacity?: number | readonly number[]): KVCache {
    this.assertAlive();
    return KVCache.create(this.device, this.config, capacity);
  }

  private assertAlive(): void {
    if (this.disposed) throw new ForwardError('this model was disposed; load it again');
  }

  /**
   * Records a forward pass and returns its logits as a GPU tensor f32 `[rows, vocab]` (rows: every
   * position, or 1 with `logits: 'last'`). Nothing is read back: chain GPU work (e.g. `topk`).
   */
  forwardTensor(ids: ArrayLike<number>, options: ForwardOptions = {}): Tensor<'f32'> {
    this.checkOneSequence(ids, options);
    return this.forwardBatchTensor([ids], options).logits;
  }

  /**
   * {@link forwardTensor}, read back: logits f32, row-major `[rows × vocab]`. A sequence with
   * more tokens than one step holds on this device runs in steps (see {@link forwardBatch}).
   */
  async forward(ids: ArrayLike<number>, options: ForwardOptions = {}): Promise<Float32Array> {
    this.checkOneSequence(ids, options);
    return (await this.forwardBatch([ids], options))[0]!;
  }

  /** What `forward` and `forwardTensor` refuse that a batch call would take. */
  private checkOneSequence(ids: ArrayLike<number>, options: ForwardOptions): void {
    this.assertAlive();
    if (options.cache && options.cache.sequences !== 1) {
      throw new ForwardError(
        `this cache holds ${options.cache.sequences} sequences; use forwardBatch with one sequence per cache entry`,
      );
    }
    if (ids.length > 0 && typeof ids[0] !== 'number') {
      throw new InvalidInputError(
        'forward takes one sequence of token ids; to run several sequences together use forwardBatch (or forwardPadded for padded rows with an attention mask)',
      );
    }
  }

  /**
   * A batch checked against the model and `cache` (one entry per sequence, room for each) and
   * packed; checked before any cache is created or changed, which an error would leave behind.
   */
  private packChecked(sequences: ReadonlyArray<ArrayLike<number>>, cache: KVCache | undefined) {
    if (cache && cache.sequences !== sequences.length) {
      throw new ForwardError(
        `the batch has ${plural(sequences.length, 'sequence')} but the cache holds ${cache.sequences}; create it with one capacity per sequence (createCache([…]))`,
      );
    }
    const rooms = cache
      ? cache.capacities.map((c, i) => c - cache.lengths[i]!)
      : sequences.map(() => this.config.maxPositions);
    // A cached sequence of a batch may sit out a step; a lone sequence must have tokens.
    return packStep(sequences, this.config, rooms, cache !== undefined && sequences.length > 1);
  }

  /**
   * The final hidden states (after `ln_final`) of a packed batch step, f32 `[Σ counts, hidden]`,
   * with each sequence's token count. The cache is the caller's, or one made to fit and disposed
   * here (the kernels that read it are recorded; the pool frees it after them).
   * @internal
   */
  hiddenBatch(
    sequences: ReadonlyArray<ArrayLike<number>>,
    options: {
      cache?: KVCache | undefined;
      hooks?: HookRunner | undefined;
      /** See `RunOptions.stopAtLayer`; the result is then that residual stream (no cache given). */
      stopAtLayer?: number | undefined;
      /** See `forwardHidden`'s `startAt` (no cache given). */
      startAt?: { layer: number; residual: Tensor<'f32'> } | undefined;
    },
  ): { hidden: Tensor<'f32'>; counts: number[]; cachedBefore: number[] } {
    this.assertAlive();
    const { cache } = options;
    if (cache && (options.stopAtLayer !== undefined || options.startAt !== undefined)) {
      throw new ForwardError(
        'stopAtLayer and startAtLayer leave layers of a cache unwritten; run them without a cache',
      );
    }
    const step = this.packChecked(sequences, cache);
    const tokens = step.ids.length;
    const limit = stepTokenLimit(
      this.config,
      this.device.limits.maxStorageBufferBindingSize,
      false,
    );
    if (tokens > limit) {
      throw new InvalidInputError(
        `a step of ${tokens} tokens needs activations wider than this device's largest binding ` +
          `(${this.device.limits.maxStorageBufferBindingSize} bytes) allows; run at most ${limit} tokens per step ` +
          '(forwardBatch and scoreTokens split a larger batch themselves; with hooks, give fewer sequences)',
      );
    }
    const target = cache ?? this.createCache(step.counts);
    const cachedBefore = [...target.lengths];
    const hidden = forwardHidden(
      this.device,
      this.config,
      this.weights,
      step.ids,
      step.counts,
      target,
      { hooks: options.hooks, stopAtLayer: options.stopAtLayer, startAt: options.startAt },
    );
    if (!cache) target.dispose();
    return { hidden, counts: step.counts, cachedBefore };
  }

  /**
   * Records a forward pass over a batch of sequences of any lengths and returns their logits on
   * the GPU, packed: f32 `[Σ rows, vocab]`, `rows[i]` of them for sequence i (its token count, or
   * 1 with `logits: 'last'`, 0 for a sequence with no tokens this step).
   */
  forwardBatchTensor(
    sequences: ReadonlyArray<ArrayLike<number>>,
    options: BatchForwardOptions = {},
  ): { logits: Tensor<'f32'>; rows: number[] } {
    let { hidden, counts } = this.hiddenBatch(sequences, options);
    let rows = counts;
    const total = counts.reduce((a, b) => a + b, 0);
    if (options.logits === 'last') {
      rows = counts.map((c) => Math.min(c, 1));
      if (rows.reduce((a, b) => a + b, 0) !== total) {
        // Each sequence's last row, gathered with the embedding kernel over the hidden states.
        const last: number[] = [];
        let end = 0;
        for (const c of counts) {
          end += c;
          if (c > 0) last.push(end - 1);
        }
        const index = this.device.tensor(Uint32Array.from(last));
        const gathered = embedding(index, hidden);
        index.dispose();
        hidden.dispose();
        hidden = gathered;
      }
    }
    const logits = matmul(hidden, this.weights.embedOut);
    hidden.dispose();
    return { logits, rows };
  }

  /**
   * A forward pass over a batch of sequences of different lengths in one step: every matmul
   * runs once over all their tokens (packed, no padding), and attention keeps each sequence to
   * itself, so each result equals running that sequence alone. Returns each sequence's logits,
   * `[tokens × vocab]` (or `[1 × vocab]` with `logits: 'last'`; empty for a sequence that has no
   * tokens this step, which a `cache` allows).
   *
   * With a `cache` made for the batch (`createCache([capacity, …])`, one entry per sequence),
   * each sequence continues after what it cached, so this also decodes a batch: one new token
   * per sequence per step.
   *
   * @example
   * ```ts
   * const [a, b] = await model.forwardBatch([[12092, 13, 309], [510, 5798]]);
   * // a: 3 × 50304 logits, b: 2 × 50304, as model.forward on each alone.
   * const cache = model.createCache([64, 64]);
   * let last = await model.forwardBatch(prompts, { cache, logits: 'last' });
   * last = await model.forwardBatch([[nextA], [nextB]], { cache, logits: 'last' });
   * ```
   * @throws {InvalidInputError} an empty batch or sequence, an id outside the vocabulary or too
   *   many ids for a sequence's room (named by its index).
   */
  async forwardBatch(
    sequences: ReadonlyArray<ArrayLike<number>>,
    options: BatchForwardOptions = {},
  ): Promise<Float32Array[]> {
    const limit = stepTokenLimit(
      this.config,
      this.device.limits.maxStorageBufferBindingSize,
      options.logits !== 'last',
    );
    const total = sequences.reduce((n, s) => n + s.length, 0);
    if (total > limit && !options.hooks) return this.forwardInSteps(sequences, options, limit);
    const { logits, rows } = this.forwardBatchTensor(sequences, options);
    let data: Float32Array;
    try {
      data = await logits.read();
    } finally {
      logits.dispose();
    }
    const vocab = this.config.vocabSize;
    const out: Float32Array[] = [];
    let at = 0;
    for (const r of rows) {
      out.push(data.subarray(at * vocab, (at + r) * vocab));
      at += r;
    }
    return out;
  }

  /**
   * {@link forwardBatch} of more tokens than one step's activations can hold on this device: the
   * batch runs in steps of at most `limit` tokens through one cache (whole sequences where they
   * fit, long ones in chunks that continue in the cache), and each sequence's rows are joined.
   */
  private async forwardInSteps(
    sequences: ReadonlyArray<ArrayLike<number>>,
    options: BatchForwardOptions,
    limit: number,
  ): Promise<Float32Array[]> {
    const { cache } = options;
    // Everything is checked before the first step, so a bad sequence changes no cache.
    const { counts } = this.packChecked(sequences, cache);
    const target = cache ?? this.createCache(counts);
    const pieces: Float32Array[][] = sequences.map(() => []);
    try {
      for (const step of planSteps(counts, limit)) {
        const inputs = step.map(
          ([start, end], i) => Array.prototype.slice.call(sequences[i], start, end) as number[],
        );
        const results = await this.forwardBatch(inputs, { ...options, cache: target });
        for (const [i, [start, end]] of step.entries()) {
          if (end === start) continue;
          // With `last`, only the step holding a sequence's final token keeps its row.
          if (options.logits === 'last' && end !== counts[i]) continue;
          pieces[i]!.push(results[i]!);
        }
      }
    } finally {
      if (!cache) target.dispose();
    }
    return pieces.map((parts) => {
      if (parts.length === 1) return parts[0]!;
      const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
      }
      return out;
    });
  }

  /**
   * A forward pass in Hugging Face's padded layout: `ids` rows of one length, `attentionMask`
   * 1 for a token and 0 for padding (left, right, or anywhere). Each row's unmasked tokens run as
   * one sequence of a packed batch (no work is spent on padding), at positions `cumsum(mask) − 1`,
   * which is how Hugging Face's `generate` derives `position_ids` (a plain `model(input_ids,
   * attention_mask)` call there numbers the padding too, so pass it those `position_ids` to
   * compare). Returns f32 `[rows × columns × vocab]` with the padded positions' logits NaN, so
   * that using one is never silently taken as a result; or with `logits: 'last'`, `[rows × vocab]`
   * at each row's last unmasked token.
   *
   * @example
   * ```ts
   * const logits = await model.forwardPadded(
   *   [[0, 0, 12092, 13], [510, 5798, 310, 247]],
   *   { attentionMask: [[0, 0, 1, 1], [1, 1, 1, 1]] },
   * ); // 2 × 4 × 50304; row 0, columns 0–1 are NaN
   * ```
   */
  async forwardPadded(
    ids: ReadonlyArray<ArrayLike<number>>,
    options: { attentionMask: ReadonlyArray<ArrayLike<number>>; logits?: 'all' | 'last' },
  ): Promise<Float32Array> {
    const batch = unpad(ids, options.attentionMask);
    const last = options.logits === 'last';
    const results = await this.forwardBatch(batch.sequences, { logits: last ? 'last' : 'all' });
    const vocab = this.config.vocabSize;
    if (last) {
      const out = new Float32Array(ids.length * vocab);
      for (const [i, r] of results.entries()) out.set(r, i * vocab);
      return out;
    }
    const out = new Float32Array(ids.length * batch.width * vocab).fill(Number.NaN);
    results.forEach((r, i) => {
      batch.columns[i]!.forEach((column, t) => {
        out.set(r.subarray(t * vocab, (t + 1) * vocab), (i * batch.width + column) * vocab);
      });
    });
    return out;
  }

  /**
   * Prefills several prompts of different lengths, each into its own cache (created when not
   * given), and returns each prompt's last-position logits. Without `caches` the prompts run as
   * one packed batch ({@link forwardBatch}); with separate caches they run one after another. To
   * prefill and then decode a batch together, use one batch cache (`createCache([…])`) with
   * {@link forwardBatch}.
   *
   * @example
   * ```ts
   * const caches = prompts.map(() => model.createCache());
   * const last = await model.prefillBatch(prompts, caches); // then decode each with its cache
   * ```
   */
  async prefillBatch(
    prompts: ReadonlyArray<ArrayLike<number>>,
    caches?: KVCache[],
  ): Promise<Float32Array[]> {
    if (!caches) return this.forwardBatch(prompts, { logits: 'last' });
    if (caches.length !== prompts.length) {
      throw new ForwardError(
        `prefillBatch got ${prompts.length} prompts but ${caches.length} caches`,
      );
    }
    const out: Float32Array[] = [];
    for (const [i, prompt] of prompts.entries()) {
      out.push(await this.forward(prompt, { logits: 'last', cache: caches[i]! }));
    }
    return out;
  }

  /**
   * Frees every GPU buffer of the model (and the device, if the model created it). The memory goes
   * back to the driver, not to the device's pool, within a moment; on a shared device,
   * `await device.trimPool()` waits until it has (say, before loading the next model).
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeWeights(this.weights);
    if (this.ownsDevice) this.device.destroy();
  }
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
