import { QuantizedTensor } from '@pythiajs/tensor-core';
import type { NeoXConfig } from './config.js';
import { SCORING_BLOCK_BYTES } from './unembed-scores.js';
import { isQuantized, type WeightDtype } from './weights.js';

/** GPU memory a model needs, in bytes. */
export interface MemoryEstimate {
  weights: number;
  kvCache: number;
  /** The largest set of intermediates alive at once during a forward pass of `tokens` tokens. */
  activations: number;
  total: number;
}

/**
 * Estimates the GPU memory of a model: weights (matrices in `dtype`, vectors in f32; with `q8` or
 * `q4`, the matrices of the blocks and `embed_out` at `QuantizedTensor.bytesPerWeight` and
 * `embed_in` in `embedDtype`, default f16, as a quantized load keeps it), a KV cache
 * of `contextLength` positions (f32 keys and values per layer), and the activations of a forward
 * pass over `tokens` tokens (the MLP's hidden and the vocabulary-wide logits dominate). `logits`
 * says how many logits rows exist at once: every token's (`'all'`, the default: `forward`), one
 * (`'last'`: generation), or one block of at most 64 MiB (`'scored'`: `scoreTokens`,
 * `tokenLogprobs` and `logitLens`, which reduce logits on the GPU a block at a time).
 */
export function estimateMemory(
  config: NeoXConfig,
  options: {
    dtype?: WeightDtype;
    /** With a quantized `dtype`: the dtype `embed_in` stays in (the checkpoint's own). Default `f16`. */
    embedDtype?: 'f16' | 'f32';
    contextLength?: number;
    tokens?: number;
    logits?: 'all' | 'last' | 'scored';
  } = {},
): MemoryEstimate {
  const { hiddenSize: h, intermediateSize: i, vocabSize: v, numLayers: L } = config;
  const blocks = L * (3 * h * h + h * h + 2 * i * h);
  const vectors = L * (4 * h + 3 * h + h + i + h) + 2 * h;
  let weights: number;
  const dtype = options.dtype ?? 'f16';
  if (isQuantized(dtype)) {
    // embed_in as loaded; embed_out (a quantized copy when tied) and the blocks quantized.
    const embedBytes = options.embedDtype === 'f32' ? 4 : 2;
    const quantized = Math.ceil(QuantizedTensor.bytesPerWeight(dtype) * (v * h + blocks));
    weights = v * h * embedBytes + quantized + vectors * 4;
  } else {
    const matrices = (config.tieWordEmbeddings ? 1 : 2) * v * h + blocks;
    weights = matrices * (dtype === 'f32' ? 4 : 2) + vectors * 4;
  }
  const context = options.contextLength ?? config.maxPositions;
  const kvCache = L * 2 * config.numHeads * context * config.headDim * 4;
  const tokens = options.tokens ?? context;
  const attentionScores = config.numHeads * tokens * context * 4;
  const rowBytes = v * 4;
  const logitRows =
    options.logits === 'last'
      ? 1
      : options.logits === 'scored'
        ? Math.min(tokens, Math.max(1, Math.floor(SCORING_BLOCK_BYTES / rowBytes)))
        : tokens;
  const activations = tokens * (6 * h + 2 * i + 3 * h) * 4 + attentionScores + logitRows * rowBytes;
  return { weights, kvCache, activations, total: weights + kvCache + activations };
}

export function formatBytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}
