// Scoring through the unembedding without reading logits back: rows of hidden states are
// unembedded a block at a time and each block's logits reduced on the GPU (`scoreRows`, and
// `topk` when asked), so a 2048-token window brings back 2048 × 6 numbers instead of
// 2048 × 50304 (412 MB), and no more than one block of logits exists at once.
import {
  embedding,
  layerNorm,
  matmul,
  type RowScores,
  scoreRows,
  type Tensor,
  topk,
  unpackRowScores,
} from '@pythiajs/tensor-core';
import type { NeoXModel } from './model.js';

/** Logits of one block: at most this many bytes (and the device's binding limit). */
export const SCORING_BLOCK_BYTES = 64 * 2 ** 20;

/** What {@link unembedRows} computes for each row. */
export interface UnembedRowsOptions {
  /** One id per row: its log-probability and rank come back in the scores. */
  targets?: Uint32Array;
  /** Apply the final LayerNorm first, as the logit lens needs for residual streams. */
  finalNorm?: boolean;
  /** Also the k largest logits of each row (k ≤ tensor-core's `MAX_TOPK`), best first. */
  topK?: number;
  /** Also read back every row's logits, `[rows × vocab]`. */
  logits?: boolean;
  /**
   * Score over the first `vocabSize` columns of each row only (`scoreRows`' option: the softmax,
   * rank and argmax ignore the rest; `topK` and `logits` still cover the whole row). Default: the
   * whole row.
   */
  vocabSize?: number;
}

/** What {@link unembedRows} reads back. */
export interface UnembedRows {
  /** `scoreRows`' fields per row (with `targetLogprob` and `rank` when given targets). */
  scores: RowScores;
  /** With `topK`: `[rows × k]` logits and their ids, best first, ties to the lower id. */
  top?: { logits: Float32Array; ids: Uint32Array };
  /** With `logits`: `[rows × vocab]`. */
  logits?: Float32Array;
}

/**
 * Records the unembedding of `rows` of `hidden` (f32 `[tokens, hidden]`) a block of rows at a
 * time, each block's logits reduced on the GPU: `scoreRows` against `targets` when given, `topk`
 * when `topK` is given; the logits themselves are read back only with `logits`. Kernels are
 * recorded now, while `hidden` is alive; the returned promise reads the results back.
 */
export function unembedRows(
  model: NeoXModel,
  hidden: Tensor<'f32'>,
  rows: Uint32Array,
  options: UnembedRowsOptions = {},
): Promise<UnembedRows> {
  const { device, config, weights } = model;
  const rowBytes = config.vocabSize * 4;
  const limit = Math.min(SCORING_BLOCK_BYTES, device.limits.maxStorageBufferBindingSize);
  const block = Math.max(1, Math.floor(limit / rowBytes));
  const scoreReads: Promise<Float32Array>[] = [];
  const topLogitReads: Promise<Float32Array>[] = [];
  const topIdReads: Promise<Uint32Array>[] = [];
  const logitReads: Promise<Float32Array>[] = [];
  const readAndDispose = <T>(t: { read(): Promise<T>; dispose(): void }): Promise<T> =>
    t.read().finally(() => t.dispose());
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
    scoreReads.push(
      readAndDispose(
        scoreRows(logits, options.targets?.subarray(first, first + block), {
          vocabSize: options.vocabSize,
        }),
      ),
    );
    if (options.topK !== undefined) {
      const top = topk(logits, options.topK);
      topLogitReads.push(readAndDispose(top.values));
      topIdReads.push(readAndDispose(top.indices));
    }
    if (options.logits) logitReads.push(logits.read());
    logits.dispose();
  }
  const joined = async <A extends Float32Array | Uint32Array>(
    reads: Promise<A>[],
    make: (length: number) => A,
  ): Promise<A> => {
    const parts = await Promise.all(reads);
    const all = make(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return all;
  };
  const f32 = (n: number) => new Float32Array(n);
  return Promise.all([
    joined(scoreReads, f32),
    options.topK !== undefined ? joined(topLogitReads, f32) : undefined,
    options.topK !== undefined ? joined(topIdReads, (n) => new Uint32Array(n)) : undefined,
    options.logits ? joined(logitReads, f32) : undefined,
  ]).then(([scores, topLogits, topIds, logits]) => ({
    scores: unpackRowScores(scores),
    ...(topLogits && topIds ? { top: { logits: topLogits, ids: topIds } } : {}),
    ...(logits ? { logits } : {}),
  }));
}

/**
 * Records the scoring of `rows` of `hidden` (f32 `[tokens, hidden]`): each row is unembedded
 * (after the final LayerNorm when `finalNorm`, as the logit lens needs for residual streams) and
 * scored against `targets[i]` when given (over its first `vocabSize` columns, when given).
 * Kernels are recorded now, while `hidden` is alive; the returned promise reads the scores back.
 * {@link unembedRows} with only the scores.
 */
export function unembedScores(
  model: NeoXModel,
  hidden: Tensor<'f32'>,
  rows: Uint32Array,
  options: Pick<UnembedRowsOptions, 'targets' | 'finalNorm' | 'vocabSize'> = {},
): Promise<RowScores> {
  return unembedRows(model, hidden, rows, options).then((r) => r.scores);
}
