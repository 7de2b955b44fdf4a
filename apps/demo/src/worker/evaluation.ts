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
import { type NeoXModel, scoreContinuationGroups } from '@pythiajs/neox-model';
import type { Tokenizer } from '@pythiajs/tokenizer';
import type {
  EvaluatedDocument,
  EvaluateEvent,
  EvaluateRequest,
  Evaluation,
  ModelSource,
} from './protocol.js';

/** Documents scored per GPU call: their requests run together, progress shown between calls. */
const DOCUMENTS_PER_CALL = 8;

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
  const posed = chosen.map(({ row, index }) => ({ index, document: task.document(row) }));
  const scored = await scoreContinuationGroups(
    model,
    posed.map(({ document }) =>
      document.requests.map((r) =>
        loglikelihoodTokens(tokenizer, r.context, r.continuation, model.config.maxPositions),
      ),
    ),
    {
      ...vocabSize,
      batch: DOCUMENTS_PER_CALL,
      onProgress: (done) => onEvent({ kind: 'progress', done, total: chosen.length }),
    },
  );
  const documents: EvaluatedDocument[] = posed.map(({ index, document }, i) => {
    const results = scored[i]!.map(({ logprob, isGreedy }) => ({ logprob, isGreedy }));
    const context = document.requests[0]?.context ?? '';
    return {
      row: index,
      context: context.length > CONTEXT_SHOWN ? `…${context.slice(-CONTEXT_SHOWN)}` : context,
      continuations: document.requests.map((r) => r.continuation),
      gold: document.gold,
      results,
      values: task.score(document, results),
    };
  });
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
