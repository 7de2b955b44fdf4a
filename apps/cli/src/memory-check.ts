import { PYTHIA_MODELS } from '@pythiajs/checkpoint-hub';
import {
  estimateMemory,
  type MemoryEstimate,
  type NeoXConfig,
  pythiaConfig,
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

/** The estimate of a model for a command, and the largest single binding it needs. */
export function memoryNeeds(
  config: NeoXConfig,
  dtype: WeightDtype,
  use: MemoryUse,
): { estimate: MemoryEstimate; bindingBytes: number } {
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
  // Matrix rows (f16 or f32) and vectors (biases, norms: f32) are at most this wide.
  const bindingBytes = Math.max(config.hiddenSize, config.intermediateSize) * 4;
  return { estimate, bindingBytes };
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

/** One line that says what does not fit, by how much, and what to do. */
export function memoryRefusal(
  label: string,
  needs: { estimate: MemoryEstimate; bindingBytes: number },
  verdict: Exclude<MemoryVerdict, { fits: true }>,
  smaller: { name: string; total: number } | undefined,
): string {
  const { estimate } = needs;
  if (verdict.reason === 'binding') {
    return (
      `${label} has rows of ${formatBytes(needs.bindingBytes)}, more than ${verdict.limitText}; ` +
      'this adapter cannot run it (try another with --device)'
    );
  }
  const alternative = smaller
    ? `${smaller.name} fits (about ${formatBytes(smaller.total)})`
    : 'no Pythia model fits';
  return (
    `${label} needs about ${formatBytes(estimate.total)} of GPU memory (weights ${formatBytes(estimate.weights)}, ` +
    `KV cache ${formatBytes(estimate.kvCache)}, activations ${formatBytes(estimate.activations)}), ` +
    `more than ${verdict.limitText}; ${alternative}, or set --memory-budget <size> to override ` +
    '(none turns the check off)'
  );
}
