import { PYTHIA_MODELS, PYTHIA_ORG } from '@pythiajs/checkpoint-hub';
import {
  estimateMemory,
  type NeoXConfig,
  pythiaConfig,
  unquantizableMatrix,
} from '@pythiajs/neox-model';
import { QuantizedTensor } from '@pythiajs/tensor-core';

/** The weights a model can load in here: f16, or quantized on load to q8 or q4. */
export type LoadDtype = 'f16' | 'q8' | 'q4';
/** What the visitor picks: a dtype, or `auto` for the widest that fits. */
export type DtypeChoice = 'auto' | LoadDtype;

export const DTYPE_CHOICES: readonly DtypeChoice[] = ['auto', 'f16', 'q8', 'q4'];
/** Widest (closest to the checkpoint) first: `auto` takes the first that fits. */
export const LOAD_DTYPES: readonly LoadDtype[] = ['f16', 'q8', 'q4'];

/**
 * The GPU memory assumed when the visitor does not say (`?gpu_memory=`): 4 GiB. Browsers do not
 * report a GPU's memory, so every fit is an estimate against this budget.
 */
export const DEFAULT_GPU_MEMORY = 4 * 2 ** 30;

/** Tokens per forward pass in the estimate: as `NeoXModel.load`'s own check. */
export const ESTIMATE_TOKENS = 128;

/** The adapter limits a load depends on (`GPUAdapter.limits` or a device's). */
export interface AdapterLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

export type FitProblem =
  /** The estimate is over the assumed GPU memory. */
  | 'memory'
  /** Something that must sit in one binding (a layer's KV cache, a matrix row) does not fit. */
  | 'binding'
  /** The hidden or MLP width is not a multiple of 32: it cannot be quantized. */
  | 'width';

/** Whether a model runs here with weights of `dtype`, and the estimate of its GPU memory. */
export interface Fit {
  dtype: LoadDtype;
  /** `estimateMemory(config, { dtype, tokens: 128 }).total`: weights, full KV cache, activations. */
  bytes: number;
  fits: boolean;
  problem?: FitProblem;
}

/**
 * Whether `config` runs with `dtype` weights on an adapter with `limits` and `gpuMemory` bytes.
 *
 * - **Memory:** `estimateMemory`'s total (weights in `dtype`, with `embed_in` in f16 as Pythia's
 *   checkpoints have it; a full-context f32 KV cache; the activations of 128 tokens), at most
 *   `gpuMemory`.
 * - **Bindings:** neox-model splits every weight matrix (f16 or quantized) by rows into buffers of
 *   at most `min(maxStorageBufferBindingSize, maxBufferSize)`, so no matrix has to fit one binding
 *   whole: only two of its rows must. What must fit one binding whole is a layer's KV cache for
 *   the full context (attention reads it as one), which generation allocates.
 * - **Width:** q8 and q4 need every matrix row (hidden size, MLP width) a multiple of 32.
 */
export function fitOf(
  config: NeoXConfig,
  dtype: LoadDtype,
  limits: AdapterLimits,
  gpuMemory: number,
): Fit {
  const bytes = estimateMemory(config, { dtype, tokens: ESTIMATE_TOKENS }).total;
  const quantized = dtype !== 'f16';
  const widest = Math.max(config.hiddenSize, config.intermediateSize);
  if (quantized && unquantizableMatrix(config) !== undefined) {
    return { dtype, bytes, fits: false, problem: 'width' };
  }
  const perBuffer = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const rowBytes = widest * (quantized ? QuantizedTensor.bytesPerWeight(dtype) : 2);
  const kvLayerBytes = config.numHeads * config.maxPositions * config.headDim * 4;
  if (2 * rowBytes > perBuffer || kvLayerBytes > limits.maxStorageBufferBindingSize) {
    return { dtype, bytes, fits: false, problem: 'binding' };
  }
  if (bytes > gpuMemory) return { dtype, bytes, fits: false, problem: 'memory' };
  return { dtype, bytes, fits: true };
}

/**
 * What `auto` loads: the widest dtype that fits. When none does, the smallest the model can be
 * loaded in (q4, or f16 for a width that cannot be quantized), marked as not fitting: the load is
 * still tried, since the memory budget is only an estimate.
 */
export function autoDtype(config: NeoXConfig, limits: AdapterLimits, gpuMemory: number): Fit {
  const fits = LOAD_DTYPES.map((dtype) => fitOf(config, dtype, limits, gpuMemory));
  return (
    fits.find((fit) => fit.fits) ?? fits.filter((fit) => fit.problem !== 'width').at(-1) ?? fits[0]!
  );
}

/** The fit of what `choice` loads: `auto` resolved, or the chosen dtype as it is. */
export function resolveChoice(
  choice: DtypeChoice,
  config: NeoXConfig,
  limits: AdapterLimits,
  gpuMemory: number,
): Fit {
  return choice === 'auto'
    ? autoDtype(config, limits, gpuMemory)
    : fitOf(config, choice, limits, gpuMemory);
}

/** `q4, 3.2 GB`, or `too large for this adapter`: what the model list says of each size. */
export function describeFit(fit: Fit): string {
  return fit.fits ? `${fit.dtype}, ${formatEstimate(fit.bytes)}` : 'too large for this adapter';
}

/** `3.2 GB`, `230 MB`: decimal units with two significant figures at most, as an estimate. */
export function formatEstimate(bytes: number): string {
  return bytes >= 1e9
    ? `${Number((bytes / 1e9).toPrecision(2))} GB`
    : `${Number((bytes / 1e6).toPrecision(2))} MB`;
}

/** `4 GiB`, `1.5 GiB`: the assumed GPU memory, as the visitor gives it in `?gpu_memory=`. */
export function formatGiB(bytes: number): string {
  return `${Number((bytes / 2 ** 30).toFixed(2))} GiB`;
}

/** Why a dtype does not fit, in a phrase: `needs about 6.4 GB, over the 4 GiB assumed`. */
export function fitProblem(fit: Fit, gpuMemory: number): string {
  switch (fit.problem) {
    case 'width':
      return 'cannot be quantized: its widths are not multiples of 32';
    case 'binding':
      return "needs a larger storage binding than this adapter's";
    case 'memory':
      return `needs about ${formatEstimate(fit.bytes)}, over the ${formatGiB(gpuMemory)} of GPU memory assumed`;
    default:
      return `needs about ${formatEstimate(fit.bytes)}`;
  }
}

/** The config of a repo of the suite (`EleutherAI/pythia-1b`), known without a download. */
export function suiteConfig(repo: string): NeoXConfig | undefined {
  const model = PYTHIA_MODELS.find((m) => `${PYTHIA_ORG}/${m.name}` === repo);
  return model ? pythiaConfig(model.name) : undefined;
}

/**
 * The line under the dtype choice: what it loads for the chosen repo and its estimate, and that
 * the GPU memory is assumed. `config` is unknown for a repo outside the suite before its download
 * (`auto` then decides from its `config.json` on load), `limits` until WebGPU answers.
 */
export function dtypeNote(
  config: NeoXConfig | undefined,
  choice: DtypeChoice,
  limits: AdapterLimits | undefined,
  gpuMemory: number,
): string {
  const assumed =
    `Browsers do not report GPU memory: ${formatGiB(gpuMemory)} is assumed ` +
    '(?gpu_memory= sets it, in GiB), so the fit is an estimate.';
  const auto = choice === 'auto';
  if (!limits) return '';
  if (!config) {
    return auto
      ? `Auto picks the widest weights that fit from the checkpoint's config.json as it loads. ${assumed}`
      : `${choice} weights. ${assumed}`;
  }
  const fit = resolveChoice(choice, config, limits, gpuMemory);
  const what = auto ? `Auto loads ${fit.dtype} weights` : `${fit.dtype} weights`;
  if (fit.fits) return `${what}: about ${formatEstimate(fit.bytes)} of GPU memory. ${assumed}`;
  if (fit.problem === 'width')
    return `${what}: this model ${fitProblem(fit, gpuMemory)}; pick f16.`;
  return `${what}: this model ${fitProblem(fit, gpuMemory)}, so loading may fail. ${assumed}`;
}
