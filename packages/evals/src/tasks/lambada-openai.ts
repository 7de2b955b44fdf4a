import { expectResults, type Task, TaskRowError } from '../task.js';
import { TASK_TABLE } from '../task-table.js';

/** A row of `EleutherAI/lambada_openai` (OpenAI's `lambada_test.jsonl`). */
export interface LambadaRow {
  text: string;
}

/**
 * `lambada_openai`: the passage up to its last space is the context, `" "` + the word after it
 * the continuation (`text.rsplit(" ", 1)`); `ppl` is the continuation's log-likelihood
 * (aggregated as exp(−mean)) and `acc` is 1 when greedy decoding reproduces it token for token.
 */
export const lambadaOpenai: Task<LambadaRow> = {
  ...TASK_TABLE.lambada_openai,
  document(row) {
    const cut = row.text.lastIndexOf(' ');
    if (cut < 0) {
      throw new TaskRowError(
        `a LAMBADA passage needs a space before its last word; this one has none: ${JSON.stringify(row.text.slice(0, 80))}`,
      );
    }
    return {
      requests: [{ context: row.text.slice(0, cut), continuation: ` ${row.text.slice(cut + 1)}` }],
      gold: 0,
    };
  },
  score(document, results) {
    expectResults('lambada_openai', document, results);
    const [{ logprob, isGreedy }] = results as [(typeof results)[0]];
    return { ppl: logprob, acc: isGreedy ? 1 : 0 };
  },
};
