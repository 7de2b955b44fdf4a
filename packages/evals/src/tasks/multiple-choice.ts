import { multipleChoiceMetrics } from '../metrics.js';
import type { LoglikelihoodResult } from '../requests.js';
import { expectResults, type TaskDocument } from '../task.js';

/**
 * `MultipleChoiceTask.construct_requests`: one request per choice, the context followed by
 * `" " + choice`.
 */
export function multipleChoiceDocument(
  context: string,
  choices: readonly string[],
  gold: number,
): TaskDocument {
  return {
    requests: choices.map((choice) => ({ context, continuation: ` ${choice}` })),
    gold,
    choices: [...choices],
  };
}

/** `MultipleChoiceTask.process_results`: `acc` and `acc_norm` (see `multipleChoiceMetrics`). */
export function scoreMultipleChoice(
  task: string,
  document: TaskDocument,
  results: readonly LoglikelihoodResult[],
): { acc: number; acc_norm: number } {
  expectResults(task, document, results);
  return multipleChoiceMetrics(
    results.map((r) => r.logprob),
    document.choices ?? [],
    document.gold,
  );
}
