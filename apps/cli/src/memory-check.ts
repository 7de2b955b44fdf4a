import { PYTHIA_MODELS } from '@pythiajs/checkpoint-hub';
import {
  estimateMemory,
  isQuantized,
  type MemoryEstimate,
  type NeoXConfig,
  pythiaConfig,
  unquantizableMatrix,
  type WeightDtype,
} from '@pythiajs/neox-model';
import { formatBytes } from './format.js';

/** What a command will run, for the estimate: its longest forward pass and its KV cache. */
export interface MemoryUse {
  /** Tokens of the longest single forward pass (of one sequence, for a batch). */
  tokens: number;
  /** Positions the KV cache holds (generation keeps the whole context); default `tokens`. */
  contextLength?: number;
  /**
   * Sequences run together as one packed batch, each of `tokens` tokens with a cache of
   * `contextLength` positions; default 1.
   */
  sequences?: number;
  /**
   * Logits rows alive at once (see neox-model's `estimateMemory`): `'scored'` for commands that
   * reduce logits on the GPU a block at a time; default every token's.
   */
  logits?: 'all' | 'last' | 'scored';
}

/** The adapter as the check sees it (see `describeAdapter`, read without creating a device). */
export interface AdapterMemory {
  /** Its name, for messages: `llvmpipe`, `NVIDIA GeForce RTX 4090`. */
  description: string;
  /** Computes on the CPU: its buffers live in system memory. */
  software: boolean;
  /** The most bytes one buffer can hold, and one binding can see. */
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

/** Everything the check decides from; no I/O happens in it. */
export interface MemoryCheckInput {
  estimate: MemoryEstimate;
  /**
   * The most bytes one buffer of the model must hold: tensor-core splits a matrix above the
   * binding limit into chunks of whole rows, so this is the widest row or the longest vector.
   */
  bindingBytes: number;
  /** `--memory-budget`: bytes, `none` for off, undefined for what the machine has. */
  budget: number | 'none' | undefined;
  /** Undefined when not asked for (an explicit budget, or the check off). */
  adapter: AdapterMemory | undefined;
  /** `os.totalmem()`. */
  totalmem: number;
  /** Memory this process can still take: `process.availableMemory()` (cgroups) or `os.freemem()`. */
  freemem: number;
}

export type MemoryVerdict =
  | { fits: true }
  | { fits: false; reason: 'memory'; limit: number; limitText: string }
  | { fits: false; reason: 'binding'; limit: number; limitText: string };

/**
 * Whether a model fits what the machine can give. The bound is `--memory-budget` when given;
 * otherwise, on a software adapter (whose GPU memory is system memory), the free memory; on a
 * hardware adapter there is none, since WebGPU does not report video memory and guessing it would
 * refuse models that fit. A tensor row wider than one binding never fits, whatever the memory.
 */
export function checkMemory(input: MemoryCheckInput): MemoryVerdict {
  const { estimate, budget, adapter } = input;
  if (budget === 'none') return { fits: true };
  if (adapter) {
    const binding = Math.min(adapter.maxStorageBufferBindingSize, adapter.maxBufferSize);
    if (input.bindingBytes > binding) {
      return {
        fits: false,
        reason: 'binding',
        limit: binding,
        limitText: `the ${formatBytes(binding)} one buffer binding of ${adapter.description} can hold`,
      };
    }
  }
  let limit: number;
  let limitText: string;
  if (budget !== undefined) {
    limit = budget;
    limitText = `the --memory-budget of ${formatBytes(budget)}`;
  } else if (adapter?.software) {
    limit = input.freemem;
    limitText =
      `the ${formatBytes(input.freemem)} of free system memory (of ${formatBytes(input.totalmem)}) ` +
      `that ${adapter.description}, a software adapter, can use`;
  } else {
    return { fits: true };
  }
  return estimate.total <= limit
    ? { fits: true }
    : { fits: false, reason: 'memory', limit, limitText };
}

/**
 * The estimate of a model for a command, and the largest single binding it needs. `embedDtype`
 * is the checkpoint's own dtype, which `embed_in` keeps when `dtype` is quantized (default f16).
 */
export function memoryNeeds(
  config: NeoXConfig,
  dtype: WeightDtype,
  use: MemoryUse,
  embedDtype: 'f16' | 'f32' = 'f16',
): MemoryNeeds {
  const tokens = Math.max(1, Math.min(use.tokens, config.maxPositions));
  const contextLength = Math.max(
    tokens,
    Math.min(use.contextLength ?? tokens, config.maxPositions),
  );
  const sequences = Math.max(1, use.sequences ?? 1);
  // A packed batch runs its matmuls over every sequence's tokens at once, attention within each
  // sequence (its own `contextLength` keys), and keeps one cache per sequence: activations for
  // `sequences × tokens` tokens, the cache `sequences` times.
  const one = estimateMemory(config, {
    dtype,
    ...(isQuantized(dtype) ? { embedDtype } : {}),
    tokens: tokens * sequences,
    contextLength,
    ...(use.logits ? { logits: use.logits } : {}),
  });
  const kvCache = one.kvCache * sequences;
  const estimate = {
    weights: one.weights,
    kvCache,
    activations: one.activations,
    total: one.weights + kvCache + one.activations,
  };
  // Matrix rows (f16 or f32; quantized ones are narrower) and vectors (biases, norms: f32) are at
  // most this wide, whatever the dtype.
  const bindingBytes = Math.max(config.hiddenSize, config.intermediateSize) * 4;
  return { estimate, bindingBytes };
}

/** What {@link memoryNeeds} says of a model for a command. */
export interface MemoryNeeds {
  estimate: MemoryEstimate;
  bindingBytes: number;
}

/** The quantized dtypes, widest first: what `--dtype auto` falls back to. */
export const QUANTIZED_DTYPES = ['q8', 'q4'] as const;

/**
 * Whether neox-model can quantize this model's matrices (every Pythia size can): `--dtype auto`
 * never picks q8 or q4 for one it cannot.
 */
export function quantizable(config: NeoXConfig): boolean {
  return unquantizableMatrix(config) === undefined;
}

/**
 * The largest model of the Pythia suite within `bytes` for the same command, deduplicated or not
 * as the refused model's name says (for sizes that have both).
 */
export function largestPythiaWithin(
  bytes: number,
  dtype: WeightDtype,
  use: MemoryUse,
  deduped: boolean,
): { name: string; total: number } | undefined {
  let best: { name: string; total: number } | undefined;
  for (const model of PYTHIA_MODELS) {
    if (model.deduped) continue;
    const total = memoryNeeds(pythiaConfig(model.name), dtype, use).estimate.total;
    if (total > bytes || (best && total <= best.total)) continue;
    const twin = PYTHIA_MODELS.find((m) => m.size === model.size && m.deduped);
    best = { name: deduped && twin ? twin.name : model.name, total };
  }
  return best;
}

/** A dtype with what a model needs in it (see {@link memoryNeeds}). */
export interface DtypeNeeds {
  dtype: WeightDtype;
  needs: MemoryNeeds;
}

/** What the refusal names besides the refused model: how it, or a Pythia model, would fit. */
export interface RefusalAlternatives {
  /** The refused model in narrower dtypes that do not fit either (`--dtype auto` tried them). */
  tried?: DtypeNeeds[];
  /** The widest narrower dtype the model fits in, for an explicit `--dtype` that does not fit. */
  fitsIn?: { dtype: WeightDtype; total: number };
  /** The largest Pythia model within the limit, in each dtype considered, widest dtype first. */
  smaller: { dtype: WeightDtype; name: string; total: number }[];
}

/** One line that says what does not fit, by how much, and what to do. */
export function memoryRefusal(
  label: string,
  refused: DtypeNeeds,
  verdict: Exclude<MemoryVerdict, { fits: true }>,
  alternatives: RefusalAlternatives = { smaller: [] },
): string {
  const { estimate, bindingBytes } = refused.needs;
  if (verdict.reason === 'binding') {
    return (
      `${label} has rows of ${formatBytes(bindingBytes)}, more than ${verdict.limitText}; ` +
      'this adapter cannot run it (try another with --device)'
    );
  }
  const tried = alternatives.tried ?? [];
  const others =
    tried.length === 0
      ? ''
      : `, ${tried
          .map((t) => `${formatBytes(t.needs.estimate.total)} in ${t.dtype}`)
          .join(tried.length === 2 ? ' and ' : ', ')}`;
  const what: string[] = [];
  if (alternatives.fitsIn) {
    const { dtype, total } = alternatives.fitsIn;
    what.push(`--dtype ${dtype} fits it (about ${formatBytes(total)})`);
  }
  // The largest Pythia model per dtype, each named once: where a narrower dtype fits no larger
  // model, it is left out.
  const named: string[] = [];
  let last: string | undefined;
  for (const { dtype, name, total } of alternatives.smaller) {
    if (name === last) continue;
    named.push(
      `${name}${named.length === 0 ? ' fits' : ''} in ${dtype} (about ${formatBytes(total)})`,
    );
    last = name;
  }
  if (named.length > 0) what.push(named.join(', '));
  else
    what.push(
      tried.length > 0
        ? `no Pythia model fits, even in ${tried.at(-1)!.dtype}`
        : 'no Pythia model fits',
    );
  return (
    `${label} needs about ${formatBytes(estimate.total)} of GPU memory in ${refused.dtype} ` +
    `(weights ${formatBytes(estimate.weights)}, KV cache ${formatBytes(estimate.kvCache)}, ` +
    `activations ${formatBytes(estimate.activations)})${others}, more than ${verdict.limitText}; ` +
    `${what.join('; ')}, or set --memory-budget <size> to override (none turns the check off)`
  );
}

/** What the check judges a model against: {@link MemoryCheckInput} without the model. */
export type MemoryLimits = Omit<MemoryCheckInput, 'estimate' | 'bindingBytes'>;

/** The dtype to load a model in, or why none fits. */
export type DtypeDecision =
  | {
      fits: true;
      dtype: WeightDtype;
      needs: MemoryNeeds;
      /** One line for stderr when `--dtype auto` chose a quantized dtype over the checkpoint's. */
      notice?: string;
    }
  | { fits: false; message: string };

/**
 * The dtype a model loads in for `--dtype`: an explicit one as asked, if it fits; under `auto`,
 * the checkpoint's own (`own`) when it fits, else the widest of q8 and q4 that does, with a notice
 * that says so. When nothing fits, the refusal names the model's needs and what would fit: a
 * narrower `--dtype` for an explicit one, and the largest Pythia model in each dtype considered.
 * An explicit dtype is never replaced by another.
 */
export function decideDtype(
  label: string,
  config: NeoXConfig,
  asked: 'auto' | WeightDtype,
  own: 'f16' | 'f32',
  use: (dtype: WeightDtype) => MemoryUse,
  limits: MemoryLimits,
): DtypeDecision {
  const first = asked === 'auto' ? own : asked;
  const narrower = quantizable(config)
    ? QUANTIZED_DTYPES.filter((d) => d !== first && !(first === 'q4' && d === 'q8'))
    : [];
  const judge = (dtype: WeightDtype) => {
    const needs = memoryNeeds(config, dtype, use(dtype), own);
    return { dtype, needs, verdict: checkMemory({ ...limits, ...needs }) };
  };
  const wanted = judge(first);
  if (wanted.verdict.fits) return { fits: true, dtype: first, needs: wanted.needs };
  const refusal = wanted.verdict;
  if (refusal.reason === 'binding')
    return { fits: false, message: memoryRefusal(label, wanted, refusal) };
  const others = narrower.map(judge);
  const fitting = others.find((o) => o.verdict.fits);
  if (asked === 'auto' && fitting) {
    return {
      fits: true,
      dtype: fitting.dtype,
      needs: fitting.needs,
      notice:
        `${label}: ${first} needs about ${formatBytes(wanted.needs.estimate.total)}, more than ` +
        `${refusal.limitText}; loading ${fitting.dtype} (about ` +
        `${formatBytes(fitting.needs.estimate.total)}) instead — pass --dtype to choose`,
    };
  }
  const deduped = /-deduped\b/.test(label);
  const smaller: RefusalAlternatives['smaller'] = [];
  for (const dtype of [first, ...narrower]) {
    const fits = largestPythiaWithin(refusal.limit, dtype, use(dtype), deduped);
    if (fits) smaller.push({ dtype, ...fits });
  }
  const alternatives: RefusalAlternatives =
    asked === 'auto'
      ? { tried: others, smaller }
      : {
          ...(fitting
            ? { fitsIn: { dtype: fitting.dtype, total: fitting.needs.estimate.total } }
            : {}),
          smaller,
        };
  return { fits: false, message: memoryRefusal(label, wanted, refusal, alternatives) };
}
