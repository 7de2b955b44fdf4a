import { statSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import { resolve } from 'node:path';
import {
  type Checkpoint,
  type CheckpointStore,
  LocalFolderNotFoundError,
  openCheckpoint,
  parseModelRef,
  readConfigJson,
} from '@pythiajs/checkpoint-hub';
import { LocalFolderStore, NodeHubCache } from '@pythiajs/checkpoint-hub/node';
import {
  checkpointConfig,
  type NeoXConfig,
  NeoXModel,
  OutOfMemoryError,
  parseNeoXConfig,
} from '@pythiajs/neox-model';
import type { Device } from '@pythiajs/tensor-core';
import { type Command, Option } from 'commander';
import { parseMemoryBudget } from './byte-size.js';
import { UsageError } from './errors.js';
import { describeAdapter, openGpuDevice } from './gpu.js';
import {
  checkMemory,
  largestPythiaWithin,
  type MemoryUse,
  memoryNeeds,
  memoryRefusal,
} from './memory-check.js';
import { loadReporter } from './progress.js';

export const DEFAULT_MODEL = 'EleutherAI/pythia-70m-deduped';

/** The options every command that runs a model shares. */
export interface ModelOptions {
  model: string;
  revision?: string;
  dtype: 'f16' | 'f32';
  device?: 'high-performance' | 'low-power';
  /** `--memory-budget`: bytes; `none` turns the check off; undefined checks against the machine. */
  memoryBudget?: number | 'none';
  /** `--allow-non-finite`: load weights that hold NaN or ±Infinity instead of refusing them. */
  allowNonFinite?: boolean;
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
      new Option('--dtype <dtype>', 'weight matrices on the GPU')
        .choices(['f16', 'f32'])
        .default('f16'),
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
    .addHelpText(
      'after',
      '\nEnvironment: HF_ENDPOINT, HF_TOKEN, HF_HUB_CACHE / HF_HOME and HF_HUB_OFFLINE=1 work as in huggingface_hub.',
    );
}

/** Where a model's files come from: a Hub repo at a revision, or a folder on disk. */
export interface ModelTarget {
  repo: string;
  revision: string;
  store: CheckpointStore;
  /** A local folder (its only revision is `local`). */
  local: boolean;
  /** How to name it to a person: `EleutherAI/pythia-160m@step1000` or the folder. */
  label: string;
}

function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/**
 * Reads `--model` and `--revision`: an existing folder is a local checkpoint; something that can
 * only be a path (`./x`, `/x`, `a/b/c`) but is missing is reported as a missing folder, not as an
 * unknown Hub repo; anything else is a Hub reference.
 */
export function resolveModel(options: Pick<ModelOptions, 'model' | 'revision'>): ModelTarget {
  const model = options.model;
  if (isDirectory(model)) {
    if (options.revision !== undefined)
      throw new UsageError(`--revision applies to Hub repos; ${model} is a local folder`);
    return {
      repo: model,
      revision: 'local',
      store: new LocalFolderStore(),
      local: true,
      label: model,
    };
  }
  if (/^(\.{1,2}[\\/]|[\\/]|~)/.test(model) || model.split('/').length > 2)
    throw new LocalFolderNotFoundError(resolve(model));
  const ref = parseModelRef(model);
  if (model.includes('@') && options.revision !== undefined && options.revision !== ref.revision) {
    throw new UsageError(
      `--model ${model} names revision ${ref.revision} and --revision says ${options.revision}; give one`,
    );
  }
  const revision = options.revision ?? ref.revision;
  return {
    repo: ref.repo,
    revision,
    store: new NodeHubCache(),
    local: false,
    label: `${ref.repo}@${revision}`,
  };
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
 * Refuses a model that would not fit (see `checkMemory`), before anything large is downloaded or
 * allocated. The adapter is asked only when no `--memory-budget` was given.
 *
 * @throws {OutOfMemoryError} one line with the estimate, the limit, a Pythia model that fits and
 *   the flag that overrides.
 */
export async function checkModelMemory(
  label: string,
  config: NeoXConfig,
  options: Pick<ModelOptions, 'dtype' | 'device' | 'memoryBudget'>,
  use: MemoryUse,
): Promise<void> {
  const budget = options.memoryBudget;
  if (budget === 'none') return;
  const needs = memoryNeeds(config, options.dtype, use);
  const verdict = checkMemory({
    ...needs,
    budget,
    adapter: budget === undefined ? await describeAdapter(options.device) : undefined,
    totalmem: totalmem(),
    freemem: availableMemory(),
  });
  if (verdict.fits) return;
  const deduped = /-deduped\b/.test(label);
  const smaller =
    verdict.reason === 'memory'
      ? largestPythiaWithin(verdict.limit, options.dtype, use, deduped)
      : undefined;
  throw new OutOfMemoryError(memoryRefusal(label, needs, verdict, smaller));
}

/**
 * Loads a model. Its `config.json` comes first: `check` sees it (so that mistakes such as a
 * prompt longer than the context are reported before anything else) and the memory check (for
 * what `use` says the command runs; default: a full context) refuses a model too big for the
 * machine. Then the checkpoint is opened (downloaded into the cache when needed, with progress
 * bars on a terminal) and its weights go to the GPU.
 */
export async function loadModel(
  target: ModelTarget,
  options: Pick<ModelOptions, 'dtype' | 'device' | 'memoryBudget' | 'allowNonFinite'>,
  more: {
    device?: () => Promise<Device>;
    check?: (config: NeoXConfig) => void;
    use?: (config: NeoXConfig) => MemoryUse;
  } = {},
): Promise<LoadedModel> {
  const start = performance.now();
  const config = await readConfig(target);
  more.check?.(config);
  await checkModelMemory(
    target.label,
    config,
    options,
    more.use?.(config) ?? { tokens: config.maxPositions },
  );
  const report = loadReporter(target.label);
  let checkpoint: Checkpoint | undefined;
  try {
    checkpoint = await openCheckpoint(target.repo, target.revision, target.store, {
      onProgress: (p) => report({ phase: 'download', ...p }),
    });
    // The config against the weights' own shapes, before a GPU device is opened.
    checkpointConfig(checkpoint);
    const device = more.device ? await more.device() : await openDevice(options);
    let model: NeoXModel;
    try {
      model = await NeoXModel.fromCheckpoint(checkpoint, {
        device,
        dtype: options.dtype,
        allowNonFinite: options.allowNonFinite === true,
        onProgress: report,
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
    await checkpoint?.close();
  }
}

/** Token ids inside the model's vocabulary (the tokenizer has fewer ids than the logits are wide). */
export function checkIds(ids: readonly number[], config: NeoXConfig): void {
  const bad = ids.findIndex((id) => id >= config.vocabSize);
  if (bad !== -1) {
    throw new UsageError(
      `token id ${ids[bad]} (position ${bad}) is outside the model's vocabulary of ${config.vocabSize} ids`,
    );
  }
}

/** Token ids a model can read at once: in its vocabulary, and (with room for `extra`) its context. */
export function checkPrompt(ids: readonly number[], config: NeoXConfig, extra = 0): void {
  if (ids.length === 0) throw new UsageError('the prompt is empty; give at least one token');
  checkIds(ids, config);
  if (ids.length + extra > config.maxPositions) {
    throw new UsageError(
      `the input is ${ids.length} tokens but the model reads at most ${config.maxPositions - extra} ` +
        `here (its context is ${config.maxPositions}); shorten it (pythia score slides a window over long texts)`,
    );
  }
}
