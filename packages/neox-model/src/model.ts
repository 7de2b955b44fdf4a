import {
  type Checkpoint,
  type CheckpointProgress,
  type CheckpointStore,
  openCheckpoint,
  parseModelRef,
} from '@pythiajs/checkpoint-hub';
import {
  createDevice,
  type Device,
  embedding,
  GpuExecutionError,
  matmul,
  type Tensor,
} from '@pythiajs/tensor-core';
import { checkpointConfig } from './checkpoint-config.js';
import type { NeoXConfig } from './config.js';
import { ForwardError, OutOfMemoryError } from './errors.js';
import { forwardHidden } from './forward.js';
import type { HookRunner } from './hooks.js';
import { KVCache } from './kv-cache.js';
import { estimateMemory, formatBytes } from './memory.js';
import { disposeWeights, type NeoXWeights, uploadWeights, type WeightDtype } from './weights.js';

/** Progress of {@link NeoXModel.load}: downloading files, then uploading tensors to the GPU. */
export type LoadProgress =
  | ({ phase: 'download' } & CheckpointProgress)
  | { phase: 'upload'; tensor: string; loaded: number; total: number };

/** Options of {@link NeoXModel.load}. */
export interface LoadOptions {
  /** Default: a new device from `createDevice()`. */
  device?: Device;
  /** Weight matrices on the GPU: `f16` (default, 2 bytes per weight) or `f32`. */
  dtype?: WeightDtype;
  /** Overrides the revision of a `repo@revision` source. */
  revision?: string;
  /** Where files come from. Default: the Hugging Face cache in Node, the browser cache in browsers. */
  store?: CheckpointStore;
  onProgress?: (progress: LoadProgress) => void;
  signal?: AbortSignal;
  /**
   * Refuse to load when the estimated GPU memory (weights, a full-context KV cache, activations)
   * exceeds this many bytes. WebGPU does not report a device's memory, so this is the caller's
   * knowledge; without it, a failed allocation is still reported with the estimate.
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

const isNode = () =>
  typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node ===
  'string';

/** Where a model comes from: a Hub reference, or a checkpoint folder on disk (Node). */
export type ModelSource = string | { repo: string; revision?: string } | { folder: string };

// Variable specifiers keep browser bundlers from following these Node-only imports.
const NODE_HUB = '@pythiajs/checkpoint-hub/node';
const NODE_FS = 'node:fs';

async function nodeHub() {
  return (await import(
    /* @vite-ignore */ NODE_HUB
  )) as typeof import('@pythiajs/checkpoint-hub/node');
}

async function isFolder(path: string): Promise<boolean> {
  if (!isNode()) return false;
  const fs = (await import(/* @vite-ignore */ NODE_FS)) as { existsSync(path: string): boolean };
  return fs.existsSync(path);
}

/** The repo, revision and store a source names. */
async function resolveSource(
  source: ModelSource,
  options: LoadOptions,
): Promise<{ repo: string; revision: string; store: CheckpointStore }> {
  const folder = typeof source === 'object' && 'folder' in source ? source.folder : undefined;
  if (folder !== undefined || (typeof source === 'string' && (await isFolder(source)))) {
    const path = folder ?? (source as string);
    return {
      repo: path,
      revision: 'local',
      store: options.store ?? new (await nodeHub()).LocalFolderStore(),
    };
  }
  const ref =
    typeof source === 'string'
      ? parseModelRef(source)
      : (source as { repo: string; revision?: string });
  const store =
    options.store ??
    (isNode()
      ? new (await nodeHub()).NodeHubCache()
      : await (await import('@pythiajs/checkpoint-hub')).BrowserHubCache.create());
  return { repo: ref.repo, revision: options.revision ?? ref.revision ?? 'main', store };
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
    readonly dtype: WeightDtype,
    /** Where the weights came from. */
    readonly source: { repo: string; revision: string; commit: string },
    private readonly ownsDevice: boolean,
  ) {}

  /**
   * Loads a model: a Hub repo (`EleutherAI/pythia-160m`), a suite shorthand with a checkpoint
   * (`pythia-70m-deduped@step3000`), or (in Node) a checkpoint folder: `{ folder }`, or a string
   * naming an existing directory.
   */
  static async load(source: ModelSource, options: LoadOptions = {}): Promise<NeoXModel> {
    const { repo, revision, store } = await resolveSource(source, options);
    const checkpoint = await openCheckpoint(repo, revision, store, {
      onProgress: (p) => options.onProgress?.({ phase: 'download', ...p }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    try {
      return await NeoXModel.fromCheckpoint(checkpoint, options);
    } finally {
      await checkpoint.close();
    }
  }

  /**
   * A model from an opened checkpoint (see `openCheckpoint` of `@pythiajs/checkpoint-hub`).
   * Everything that can be refused without a GPU is refused first, before a device is created or
   * a buffer allocated: `config.json` (out-of-bounds fields, a layer count, vocabulary or width
   * the tensors contradict: see `checkpointConfig`) and the memory budget. Then each tensor's
   * shape is checked, and its values as they are read (see `allowNonFinite`).
   *
   * @throws {InvalidConfigError} `config.json` is missing a field or has an impossible value.
   * @throws {ConfigMismatchError} `config.json` and the tensors do not belong together.
   * @throws {NonFiniteWeightsError} a weight is NaN or ±Infinity (or overflows f16).
   * @throws {OutOfMemoryError} over `memoryBudget`, or the device could not allocate.
   */
  static async fromCheckpoint(
    checkpoint: Checkpoint,
    options: Omit<LoadOptions, 'store' | 'revision'> = {},
  ): Promise<NeoXModel> {
    const config = checkpointConfig(checkpoint);
    const dtype = options.dtype ?? 'f16';
    const estimate = estimateMemory(config, { dtype, tokens: 128 });
    const describe = () =>
      `${checkpoint.repo}@${checkpoint.revision} needs about ${formatBytes(estimate.total)} of GPU memory ` +
      `(weights ${formatBytes(estimate.weights)}, KV cache ${formatBytes(estimate.kvCache)}, activations ${formatBytes(estimate.activations)})`;
    if (options.memoryBudget !== undefined && estimate.total > options.memoryBudget) {
      throw new OutOfMemoryError(
        `${describe()}, over the budget of ${formatBytes(options.memoryBudget)}; use a smaller model or f16 weights`,
      );
    }
    const ownsDevice = !options.device;
    const device = options.device ?? (await createDevice());
    try {
      const weights = await uploadWeights(checkpoint, config, device, {
        dtype,
        allowNonFinite: options.allowNonFinite ?? false,
        onTensor: (tensor, loaded, total) =>
          options.onProgress?.({ phase: 'upload', tensor, loaded, total }),
      });
      const { repo, revision, commit } = checkpoint;
      return new NeoXModel(device, config, weights, dtype, { repo, revision, commit }, ownsDevice);
    } catch (error) {
      if (ownsDevice) device.destroy();
      if (error instanceof GpuExecutionError && /memory/i.test(error.message)) {
        throw new OutOfMemoryError(
          `${describe()}, more than ${device.adapterInfo.description || 'this adapter'} could allocate; use a smaller model, f16 weights, or a GPU with more memory`,
        );
      }
      throw error;
    }
  }

  /** A KV cache for up to `capacity` tokens (default: the model's context, 2048 for Pythia). */
  createCache(capacity?: number): KVCache {
    this.assertAlive();
    return KVCache.create(this.device, this.config, capacity);
  }

  private assertAlive(): void {
    if (this.disposed) throw new ForwardError('this model was disposed; load it again');
  }

  /** Checks ids against the vocabulary and the cache's room. */
  private checkIds(ids: ArrayLike<number>, cache: KVCache): Uint32Array {
    if (ids.length === 0) throw new ForwardError('forward needs at least one token id');
    const out = new Uint32Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
        throw new ForwardError(
          `token id ${id} at position ${i} is outside the vocabulary [0, ${this.config.vocabSize})`,
        );
      }
      out[i] = id;
    }
    if (cache.length + ids.length > cache.capacity) {
      throw new ForwardError(
        `${cache.length} cached + ${ids.length} new tokens exceed the context of ${cache.capacity} positions; ` +
          'shorten the input (or use a sliding window)',
      );
    }
    return out;
  }

  /**
   * Records a forward pass and returns its logits as a GPU tensor f32 `[rows, vocab]` (rows: every
   * position, or 1 with `logits: 'last'`). Nothing is read back: chain GPU work (e.g. `topk`).
   */
  forwardTensor(ids: ArrayLike<number>, options: ForwardOptions = {}): Tensor<'f32'> {
    this.assertAlive();
    const cache =
      options.cache ??
      this.createCache(Math.min(this.config.maxPositions, Math.max(ids.length, 1)));
    const checked = this.checkIds(ids, cache);
    let hidden = forwardHidden(
      this.device,
      this.config,
      this.weights,
      checked,
      cache,
      options.hooks,
    );
    if (options.logits === 'last' && checked.length > 1) {
      // The last row, gathered with the embedding kernel over the hidden states as a table.
      const last = this.device.tensor(Uint32Array.of(checked.length - 1));
      const row = embedding(last, hidden);
      last.dispose();
      hidden.dispose();
      hidden = row;
    }
    const logits = matmul(hidden, this.weights.embedOut);
    hidden.dispose();
    if (!options.cache) cache.dispose();
    return logits;
  }

  /** {@link forwardTensor}, read back: logits f32, row-major `[rows × vocab]`. */
  async forward(ids: ArrayLike<number>, options: ForwardOptions = {}): Promise<Float32Array> {
    const logits = this.forwardTensor(ids, options);
    try {
      return await logits.read();
    } finally {
      logits.dispose();
    }
  }

  /**
   * Prefills several prompts of different lengths, each into its own cache (created when not
   * given), and returns each prompt's last-position logits. Every prompt keeps its own positions
   * 0…n−1, so no padding is involved. The prompts run one after another; their row-wise work is not
   * fused into shared matmuls yet.
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
    if (caches && caches.length !== prompts.length) {
      throw new ForwardError(
        `prefillBatch got ${prompts.length} prompts but ${caches.length} caches`,
      );
    }
    const out: Float32Array[] = [];
    for (const [i, prompt] of prompts.entries()) {
      out.push(
        await this.forward(prompt, { logits: 'last', ...(caches ? { cache: caches[i]! } : {}) }),
      );
    }
    return out;
  }

  /** Frees every GPU buffer of the model (and the device, if the model created it). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeWeights(this.weights);
    if (this.ownsDevice) this.device.destroy();
  }
}
