import type { Checkpoint } from '@pythiajs/checkpoint-hub';
import type { NeoXConfig } from './config.js';

/**
 * The weight dtype a checkpoint loads in by default: its own. `f16` when every weight matrix
 * (every rank-2 tensor: the embeddings and the four matrices of each block) is stored as F16, as
 * in Pythia's published checkpoints; `f32` otherwise. F32 matrices stay exact in f32, and BF16
 * (the top half of an f32) converts to f32 exactly but would lose range and precision in f16. A
 * checkpoint whose matrices mix dtypes loads in f32, which holds each of them exactly. Vectors
 * (LayerNorm parameters, biases) do not count: they are uploaded in f32 whatever the dtype, and
 * mixed-precision checkpoints often keep them in F32 beside F16 matrices. The quantized dtypes
 * (`q8`, `q4`) are never the default; a model loaded in one keeps `embed_in` in this dtype.
 *
 * @example
 * ```ts
 * const checkpoint = await openCheckpoint('EleutherAI/pythia-70m', 'main', store);
 * checkpointDtype(checkpoint); // 'f16'
 * ```
 */
export function checkpointDtype(checkpoint: Pick<Checkpoint, 'tensors'>): 'f16' | 'f32' {
  let matrices = 0;
  for (const entry of checkpoint.tensors.values()) {
    if (entry.shape.length !== 2) continue;
    matrices++;
    if (entry.dtype !== 'F16') return 'f32';
  }
  return matrices > 0 ? 'f16' : 'f32';
}

/**
 * The weight dtype a checkpoint is expected to load in, from its `config.json` alone (its
 * `torch_dtype`): `f16` for `float16`, `f32` for anything else or nothing (the larger estimate,
 * when the memory a model needs is judged before its weights are downloaded). The tensors decide
 * at load ({@link checkpointDtype}); the two agree for checkpoints saved by `transformers`.
 *
 * @example
 * ```ts
 * configDtype(parseNeoXConfig(json)); // 'f16' for Pythia
 * ```
 */
export function configDtype(config: Pick<NeoXConfig, 'torchDtype'>): 'f16' | 'f32' {
  return config.torchDtype === 'float16' ? 'f16' : 'f32';
}
