import type { DatasetRow } from '@pythiajs/checkpoint-hub';
import {
  harnessShuffle,
  LoglikelihoodRequestError,
  type LoglikelihoodTokens,
  loglikelihoodTokens,
  TASKS,
  type Task,
  type TaskDocument,
  type TaskName,
  TaskRowError,
  type TokenizerLike,
} from '@pythiajs/evals';
import { type NeoXModel, scoreContinuationGroups } from '@pythiajs/neox-model';

/** A task's documents as the harness posed them: shuffled, cut to `--limit`. */
export interface PosedTask {
  task: TaskName;
  documents: TaskDocument[];
  /** The row (0-based, in the dataset's order) each document comes from, for messages. */
  rows: number[];
}

/**
 * The documents v0.3.0's `evaluate()` scored: every row posed as the task poses it, in the order
 * `random.Random(42).shuffle` left them, then the first `limit` of them (`--limit` took the first
 * N of the shuffled list, not of the dataset).
 */
export function poseTask(
  task: TaskName,
  rows: readonly DatasetRow[],
  limit: number | null,
  fail: (message: string) => Error,
): PosedTask {
  const order = harnessShuffle(rows.map((_, i) => i)).slice(0, limit ?? undefined);
  const documents = order.map((i) => {
    try {
      return TASKS[task].document(rows[i]);
    } catch (error) {
      if (error instanceof TaskRowError) throw fail(`row ${i + 1}: ${error.message}`);
      throw error;
    }
  });
  return { task, documents, rows: order };
}

/**
 * Each request of each document as v0.3.0's token windows (`loglikelihoodTokens`: context and
 * continuation encoded separately, an empty context as the end-of-text token, cut from the left
 * to the model's context).
 */
export function requestWindows(
  posed: PosedTask,
  tokenizer: TokenizerLike,
  maxLength: number,
  fail: (message: string) => Error,
): LoglikelihoodTokens[][] {
  return posed.documents.map((document, d) =>
    document.requests.map((request) => {
      try {
        return loglikelihoodTokens(tokenizer, request.context, request.continuation, maxLength);
      } catch (error) {
        if (error instanceof LoglikelihoodRequestError)
          throw fail(`${posed.task} row ${posed.rows[d]! + 1}: ${error.message}`);
        throw error;
      }
    }),
  );
}

/**
 * Scores a task's documents on a model, `batch` documents per call of `scoreContinuations`
 * (`scoreContinuationGroups`: their requests together; the choices of a question share their
 * context's forward pass), and returns each document's metric values (`task.score`) in order.
 */
export async function scoreTask(
  model: NeoXModel,
  posed: PosedTask,
  windows: readonly LoglikelihoodTokens[][],
  options: { batch: number; vocabSize: number; onProgress?: (done: number) => void },
): Promise<Record<string, number>[]> {
  // biome-ignore lint/suspicious/noExplicitAny: each task takes its own dataset's rows.
  const task: Task<any> = TASKS[posed.task];
  const scores = await scoreContinuationGroups(model, windows, options);
  return scores.map((results, i) => task.score(posed.documents[i]!, results));
}
