import { type DatasetRow, readDatasetRows } from '@pythiajs/checkpoint-hub';
import {
  HARNESS_LOGIT_COLUMNS,
  harnessResults,
  harnessShuffle,
  loglikelihoodTokens,
  TASK_NAMES,
  TASKS,
  type TaskName,
} from '@pythiajs/evals';
import { type NeoXModel, scoreContinuations } from '@pythiajs/neox-model';
import type { Tokenizer } from '@pythiajs/tokenizer';
import type {
  EvaluatedDocument,
  EvaluateEvent,
  EvaluateRequest,
  Evaluation,
  ModelSource,
} from './protocol.js';

/** The end of a context the page shows per document: where the question is. */
const CONTEXT_SHOWN = 240;

/**
 * A live run of one task on the loaded checkpoint, posed and scored as lm-evaluation-harness
 * v0.3.0 did with `--limit`: the split's rows (from the Hub's Parquet conversion, through the
 * browser cache) in the harness's order (`harnessShuffle`), the first `examples` of them, each
 * row's requests as the harness's token windows, their log-likelihoods on the GPU, the task's
 * metrics per document, and the harness's aggregates and standard errors over them.
 */
export async function evaluate(
  model: NeoXModel,
  tokenizer: Tokenizer,
  store: Parameters<typeof readDatasetRows>[0],
  source: ModelSource,
  request: EvaluateRequest,
  onEvent: (event: EvaluateEvent) => void,
): Promise<Evaluation> {
  if (!(TASK_NAMES as readonly string[]).includes(request.task)) {
    throw new Error(`There is no task ${request.task}; pick one of ${TASK_NAMES.join(', ')}.`);
  }
  const name = request.task as TaskName;
  const task = TASKS[name];
  const { repo, config, split } = task.hub;
  const rows: DatasetRow[] = await readDatasetRows(store, repo, config, split);
  const chosen = harnessShuffle(rows.map((row, index) => ({ row, index }))).slice(
    0,
    request.examples,
  );
  onEvent({ kind: 'documents', total: chosen.length, splitSize: rows.length, dataset: repo });

  // The harness of the Pythia runs scored the first 50 257 columns (GPT-2's vocabulary) of each
  // logits row; a model with a smaller vocabulary is scored over its own.
  const vocabSize =
    model.config.vocabSize >= HARNESS_LOGIT_COLUMNS ? { vocabSize: HARNESS_LOGIT_COLUMNS } : {};
  const documents: EvaluatedDocument[] = [];
  for (const { row, index } of chosen) {
    const document = task.document(row);
    const windows = document.requests.map((r) =>
      loglikelihoodTokens(tokenizer, r.context, r.continuation, model.config.maxPositions),
    );
    const scores = await scoreContinuations(model, windows, vocabSize);
    const results = scores.map(({ logprob, isGreedy }) => ({ logprob, isGreedy }));
    const context = document.requests[0]?.context ?? '';
    documents.push({
      row: index,
      context: context.length > CONTEXT_SHOWN ? `…${context.slice(-CONTEXT_SHOWN)}` : context,
      continuations: document.requests.map((r) => r.continuation),
      gold: document.gold,
      results,
      values: task.score(document, results),
    });
    onEvent({ kind: 'progress', done: documents.length, total: chosen.length });
  }
  const aggregated = harnessResults([{ task, documents: documents.map((d) => d.values) }], {
    model_args: `pretrained=${source.repo},revision=${source.revision}`,
    limit: chosen.length,
  });
  return {
    repo: source.repo,
    revision: source.revision,
    commit: model.source.commit,
    task: name,
    splitSize: rows.length,
    documents,
    results: aggregated.results[name] ?? {},
  };
}
