import { freemem, totalmem } from 'node:os';
import { join } from 'node:path';
import { type Checkpoint, openCheckpoint, readConfigJson } from '@pythiajs/checkpoint-hub';
import { defaultDerivedDir } from '@pythiajs/checkpoint-hub/node';
import {
  checkpointConfig,
  checkpointDtype,
  configDtype,
  isQuantized,
  type NeoXConfig,
  NeoXModel,
  OutOfMemoryError,
  parseNeoXConfig,
  type QuantizedCacheEvent,
  type ResolvedSource,
  resolveModelSource,
  type WeightDtype,
} from '@pythiajs/neox-model';
import type { Device } from '@pythiajs/tensor-core';
import { type Command, Option } from 'commander';
import { parseMemoryBudget } from './byte-size.js';
import { dawnInstance, describeAdapter, openGpuDevice } from './gpu.js';
import { decideDtype, type MemoryUse } from './memory-check.js';
import { loadReporter } from './progress.js';

export const DEFAULT_MODEL = 'EleutherAI/pythia-70m-deduped';

/** The options every command that runs a model shares. */
export interface ModelOptions {
  model: string;
  revision?: string;
  /** `--dtype`: `auto` (the default) loads the weights in the checkpoint's own dtype. */
  dtype: 'auto' | WeightDtype;
  device?: 'high-performance' | 'low-power';
  /** `--memory-budget`: bytes; `none` turns the check off; undefined checks against the machine. */
  memoryBudget?: number | 'none';
  /** `--allow-non-finite`: load weights that hold NaN or ±Infinity instead of refusing them. */
  allowNonFinite?: boolean;
  /** `--cache-quantized`: keep a Hub revision's q8/q4 matrices so that its next load skips quantizing. */
  cacheQuantized?: boolean;
}

/** Adds the options of {@link ModelOptions} to a command. */
export function addModelOptions(command: Command): Command {
  return command
    .option(
      '--model <ref>',
      'Hub repo, local checkpoint folder, or pythia-70m-deduped@step3000 shorthand',
      DEFAULT_MODEL,
    )
    .option('--revision <rev>', 'branch (step0 … step143000, main) or commit (default: main)')
    .addOption(
      new Option(
        '--dtype <dtype>',
        "weight matrices on the GPU; auto = the checkpoint's own (f16 for f16 files, f32 for f32 or bf16 files); " +
          'q8 and q4 quantize them on load (8.5 and 4.5 bits per weight; results differ from f16 by the quantization error)',
      )
        .choices(['auto', 'f16', 'f32', 'q8', 'q4'])
        .default('auto'),
    )
    .addOption(
      new Option('--device <preference>', 'which adapter to ask WebGPU for').choices([
        'high-performance',
        'low-power',
      ]),
    )
    .option(
      '--memory-budget <size>',
      'refuse models estimated above this much GPU memory (8GB, 512MB, bytes; none = no check; ' +
        'default: free system memory on a software adapter, no limit on a GPU)',
      parseMemoryBudget,
    )
    .option(
      '--allow-non-finite',
      'load a checkpoint whose weights hold NaN or ±Infinity (refused by default, naming the tensor)',
    )
    .option(
      '--cache-quantized',
      'with q8 or q4: keep the quantized weights of the Hub revision under ~/.cache/pythiajs ' +
        '(PYTHIAJS_CACHE) so that its next load skips quantizing; costs their size on disk',
    )
    .addHelpText(
      'after',
      '\nEnvironment: HF_ENDPOINT, HF_TOKEN, HF_HUB_CACHE / HF_HOME and HF_HUB_OFFLINE=1 work as in huggingface_hub.',
    );
}

/**
 * Where a model's files come from: a Hub repo at a revision, or a folder on disk (its only
 * revision is `local`), with the store to read them from and a `label` to name it by.
 */
export type ModelTarget = ResolvedSource;

/**
 * Reads `--model` and `--revision` as `NeoXModel.load` reads a source (see `resolveModelSource`):
 * an existing folder is a local checkpoint; something that can only be a path (`./x`, `/x`,
 * `a/b/c`) but is missing is reported as a missing folder, not as an unknown Hub repo; anything
 * else is a Hub reference.
 */
export function resolveModel(
  options: Pick<ModelOptions, 'model' | 'revision'>,
): Promise<ModelTarget> {
  return resolveModelSource(options.model, {
    ...(options.revision !== undefined ? { revision: options.revision } : {}),
    environment: 'node',
  });
}

/** A WebGPU device as `--device` asks. */
export function openDevice(options: Pick<ModelOptions, 'device'>): Promise<Device> {
  return openGpuDevice(options.device);
}

/**
 * One device for several models (a sweep over checkpoints), created when the first one needs it
 * so that argument and download errors come before any GPU work.
 */
export function sharedDevice(options: Pick<ModelOptions, 'device'>) {
  let device: Promise<Device> | undefined;
  return {
    get: () => {
      device ??= openDevice(options);
      return device;
    },
    destroy: async () => (await device)?.destroy(),
  };
}

/** A model on the GPU with what the commands report about it. */
export interface LoadedModel {
  model: NeoXModel;
  target: ModelTarget;
  checkpoint: Pick<Checkpoint, 'repo' | 'revision' | 'commit' | 'format'>;
  /** Seconds from resolving the revision to the weights being on the GPU. */
  loadSeconds: number;
  /** Frees the model, and the device when `loadModel` created it. */
  dispose(): void;
}

/**
 * A revision's `config.json`, alone: a few hundred bytes, so that a model can be judged (prompt
 * length, memory) before its weights are downloaded.
 */
export async function readConfig(target: ModelTarget): Promise<NeoXConfig> {
  const json = await readConfigJson(target.store, target.repo, target.revision);
  return parseNeoXConfig(json, { source: target.label });
}

/** Memory this process can still take: cgroup limits count where Node knows them. */
function availableMemory(): number {
  const available = (process as { availableMemory?: () => number }).availableMemory?.();
  return available !== undefined && available > 0 ? available : freemem();
}

/**
 * The dtype to load a model in (see `decideDtype`), before anything large is downloaded or
 * allocated: `--dtype` as given when it fits; under `auto`, the checkpoint's own (`own`) when it
 * fits, else the widest of q8 and q4 that does, with a `notice` for stderr. Without a check
 * (`--memory-budget none`) the dtype asked for, or `own`. The adapter is asked only when no
 * `--memory-budget` was given.
 *
 * @throws {OutOfMemoryError} one line with the estimate, the limit, what fits (a narrower
 *   `--dtype`, the largest Pythia model in each dtype) and the flag that overrides.
 */
export async function chooseDtype(
  label: string,
  config: NeoXConfig,
  options: Pick<ModelOptions, 'device' | 'memoryBudget' | 'dtype'>,
  own: 'f16' | 'f32',
  use: (dtype: WeightDtype) => MemoryUse,
): Promise<{ dtype: WeightDtype; notice?: string }> {
  const budget = options.memoryBudget;
  if (budget === 'none') return { dtype: options.dtype === 'auto' ? own : options.dtype };
  const decision = decideDtype(label, config, options.dtype, own, use, {
    budget,
    adapter: budget === undefined ? await describeAdapter(options.device) : undefined,
    totalmem: totalmem(),
    freemem: availableMemory(),
  });
  if (!decision.fits) throw new OutOfMemoryError(decision.message);
  return { dtype: decision.dtype, ...(decision.notice ? { notice: decision.notice } : {}) };
}

/** Says on stderr which dtype `--dtype auto` chose, when not the checkpoint's own. */
export function sayDtypeNotice(notice: string | undefined): void {
  if (notice) process.stderr.write(`pythia: ${notice}\n`);
}

/**
 * Loads a model. Its `config.json` comes first: `check` sees it (so that mistakes such as a
 * prompt longer than the context are reported before anything else) and `chooseDtype` (for what
 * `use` says the command runs; default: a full context) picks the dtype, or refuses a model too
 * big for the machine in any: `--dtype` as given, or under `auto` the dtype `config.json`
 * announces (`torch_dtype`) when it fits, else q8 or q4, said in one line on stderr. Dawn is
 * loaded next, so that a missing `webgpu` package is said before a download. Then the checkpoint
 * is opened (downloaded into the cache when needed, with progress bars on a terminal), its config
 * checked against its tensors, and its weights go to the GPU in the dtype chosen; when its
 * tensors are stored in another dtype than announced, the choice is made again for them under
 * `auto` (and for q8 or q4, whose `embed_in` keeps it). `use` is asked for each dtype, since a
 * batch sized to fit beside the weights depends on them. The model's `dtype` is the one loaded.
 */
export async function loadModel(
  target: ModelTarget,
  options: Pick<
    ModelOptions,
    'dtype' | 'device' | 'memoryBudget' | 'allowNonFinite' | 'cacheQuantized'
  >,
  more: {
    device?: () => Promise<Device>;
    check?: (config: NeoXConfig) => void;
    use?: (config: NeoXConfig, dtype: WeightDtype) => MemoryUse;
  } = {},
): Promise<LoadedModel> {
  const start = performance.now();
  const config = await readConfig(target);
  more.check?.(config);
  const use = (dtype: WeightDtype) => more.use?.(config, dtype) ?? { tokens: config.maxPositions };
  const announced = configDtype(config);
  const first = await chooseDtype(target.label, config, options, announced, use);
  sayDtypeNotice(first.notice);
  await dawnInstance();
  const report = loadReporter(target.label);
  // Said once the progress bars are gone.
  const cacheNotices: string[] = [];
  let checkpoint: Checkpoint | undefined;
  try {
    checkpoint = await openCheckpoint(target.repo, target.revision, target.store, {
      onProgress: (p) => report({ phase: 'download', ...p }),
    });
    // The config against the weights' own shapes, before a GPU device is opened.
    checkpointConfig(checkpoint);
    // Tensors stored wider than `config.json` announced: `auto` loads them in their own dtype,
    // and a quantized model keeps `embed_in` in it, so the choice is made again for them.
    const own = checkpointDtype(checkpoint);
    let dtype = first.dtype;
    if (own !== announced && (options.dtype === 'auto' || isQuantized(options.dtype))) {
      const again = await chooseDtype(target.label, config, options, own, use);
      if (again.dtype !== dtype) sayDtypeNotice(again.notice);
      dtype = again.dtype;
    }
    if (options.cacheQuantized && !isQuantized(dtype))
      sayDtypeNotice(
        `--cache-quantized keeps q8 and q4 weights; ${dtype} weights are read as stored`,
      );
    else if (options.cacheQuantized && target.local)
      sayDtypeNotice(
        `--cache-quantized keeps Hub revisions by commit; ${target.label} is a local folder, quantized anew each load`,
      );
    const device = more.device ? await more.device() : await openDevice(options);
    let model: NeoXModel;
    try {
      model = await NeoXModel.fromCheckpoint(checkpoint, {
        device,
        dtype,
        allowNonFinite: options.allowNonFinite === true,
        quantizedCache: options.cacheQuantized === true,
        onProgress: (p) => {
          if (p.phase !== 'quantized-cache') report(p);
          else if (p.action !== 'read') cacheNotices.push(cacheNotice(p));
        },
      });
    } catch (error) {
      if (!more.device) device.destroy();
      throw error;
    }
    const { repo, revision, commit, format } = checkpoint;
    return {
      model,
      target,
      checkpoint: { repo, revision, commit, format },
      loadSeconds: (performance.now() - start) / 1000,
      dispose: () => {
        model.dispose();
        // A device this function created is this model's to destroy.
        if (!more.device) device.destroy();
      },
    };
  } finally {
    report.stop();
    for (const notice of cacheNotices) sayDtypeNotice(notice);
    await checkpoint?.close();
  }
}

/** One line on what `--cache-quantized` did, when it did more than read the file. */
function cacheNotice(event: QuantizedCacheEvent): string {
  const file = join(defaultDerivedDir(), event.key);
  switch (event.action) {
    case 'written':
      return `kept the quantized weights in ${file}; the next load of this revision reads them`;
    case 'read-failed':
      return `could not read ${file} (${event.message}); quantized the checkpoint again`;
    default:
      return `could not keep the quantized weights in ${file}: ${event.message}`;
  }
}
