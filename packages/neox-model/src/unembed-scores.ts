// Scoring through the unembedding without reading logits back: rows of hidden states are
// unembedded a block at a time and each block's logits reduced on the GPU (`scoreRows`), so a
// 2048-token window brings back 2048 × 6 numbers instead of 2048 × 50304 (412 MB), and no more
// than one block of logits exists at once.
import {
  embedding,
  layerNorm,
  matmul,
  type RowScores,
  scoreRows,
  type Tensor,
  unpackRowScores,
} from '@pythiajs/tensor-core';
import type { NeoXModel } from './model.js';

/** Logits of one block: at most this many bytes (and the device's binding limit). */
export const SCORING_BLOCK_BYTES = 64 * 2 ** 20;

/**
 * Records the scoring of `rows` of `hidden` (f32 `[tokens, hidden]`): each row is unembedded
 * (after the final LayerNorm when `finalNorm`, as the logit lens needs for residual streams) and
 * scored against `targets[i]` when given. Kernels are recorded now, while `hidden` is alive;
 * the returned promise reads the scores back.
 */
export function unembedScores(
  model: NeoXModel,
  hidden: Tensor<'f32'>,
  rows: Uint32Array,
  options: { targets?: Uint32Array; finalNorm?: boolean } = {},
): Promise<RowScores> {
  const { device, config, weights } = model;
  const rowBytes = config.vocabSize * 4;
  const limit = Math.min(SCORING_BLOCK_BYTES, device.limits.maxStorageBufferBindingSize);
  const block = Math.max(1, Math.floor(limit / rowBytes));
  const reads: Promise<Float32Array>[] = [];
  for (let first = 0; first < rows.length; first += block) {
    const index = device.tensor(rows.subarray(first, first + block));
    let x = embedding(index, hidden);
    index.dispose();
    if (options.finalNorm) {
      const normed = layerNorm(
        x,
        weights.finalNormWeight,
        weights.finalNormBias,
        config.layerNormEps,
      );
      x.dispose();
      x = normed;
    }
    const logits = matmul(x, weights.embedOut);
    x.dispose();
    const scores = scoreRows(logits, options.targets?.subarray(first, first + block));
    logits.dispose();
    reads.push(scores.read().finally(() => scores.dispose()));
  }
  return Promise.all(reads).then((parts) => {
    const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return unpackRowScores(all);
  });
}
