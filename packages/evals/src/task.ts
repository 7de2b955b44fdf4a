import type { Aggregation } from './metrics.js';
import type { LoglikelihoodRequest, LoglikelihoodResult } from './requests.js';

/** The names of the tasks this package poses, as the harness (and the Pythia results) name them. */
export type TaskName =
  | 'lambada_openai'
  | 'piqa'
  | 'arc_easy'
  | 'arc_challenge'
  | 'sciq'
  | 'logiqa'
  | 'winogrande'
  | 'wsc';

/** One metric a task reports per document, and how the harness aggregates it. */
export interface MetricSpec {
  name: string;
  aggregation: Aggregation;
}

/** A task's row of the task table: where its documents come from and what it reports. */
export interface TaskSpec {
  name: TaskName;
  /** The task's `VERSION` in the harness (0 for all of these, as in the Pythia results). */
  version: 0;
  /** What the harness loaded: `datasets.load_dataset(path, name)`, and the split it evaluated. */
  harness: { path: string; name: string | null; split: 'test' | 'validation' };
  /** Where the same documents are on the Hugging Face Hub today, in the same schema. */
  hub: { repo: string; config: string; split: string };
  /** How many documents the split holds (the denominator of every reported mean). */
  documents: number;
  /** The metrics, in the order the harness reports them. */
  metrics: readonly MetricSpec[];
}

/** A document posed as the harness poses it: its requests, in order, and its gold answer. */
export interface TaskDocument {
  requests: LoglikelihoodRequest[];
  /** Index of the gold choice; for LAMBADA, 0 (its one request is the gold continuation). */
  gold: number;
  /** The answer choices whose log-likelihoods the requests measure, where the task has them. */
  choices?: string[];
}

/** A task: its table row, the row → document function, and document + results → metric values. */
export interface Task<Row> extends TaskSpec {
  /** The document for one dataset row, in the dataset's own schema. */
  document(row: Row): TaskDocument;
  /** The document's metric values from its requests' results (one per request, in order). */
  score(document: TaskDocument, results: readonly LoglikelihoodResult[]): Record<string, number>;
}

/** Thrown when a row cannot be posed (the harness would have raised on it too). */
export class TaskRowError extends Error {
  override name = 'TaskRowError';
}

export function expectResults(
  task: string,
  document: TaskDocument,
  results: readonly LoglikelihoodResult[],
): void {
  if (results.length !== document.requests.length) {
    throw new RangeError(
      `${task}: expected ${document.requests.length} results (one per request), got ${results.length}`,
    );
  }
}
