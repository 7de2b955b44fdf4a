import { argmax } from '../metrics.js';
import { pythonStrip } from '../python-strings.js';
import { expectResults, type Task, TaskRowError } from '../task.js';
import { TASK_TABLE } from '../task-table.js';

/** A row of `allenai/winogrande` (`winogrande_xl`). */
export interface WinograndeRow {
  /** The sentence, with `_` where an option goes. */
  sentence: string;
  option1: string;
  option2: string;
  /** "1" or "2". */
  answer: string;
}

/**
 * `winogrande`, by partial evaluation (Trinh & Le 2018): one request per option whose context is
 * the sentence up to the blank with the option in it, and whose continuation is the same for
 * both: `" "` + the rest of the sentence after the blank, stripped. `acc` is 1 when the gold
 * option's context makes the continuation more likely (ties go to option 1).
 */
export const winogrande: Task<WinograndeRow> = {
  ...TASK_TABLE.winogrande,
  document(row) {
    const blank = row.sentence.indexOf('_');
    if (blank < 0)
      throw new TaskRowError(`a Winogrande sentence needs a "_": ${JSON.stringify(row.sentence)}`);
    const gold = { 1: 0, 2: 1 }[row.answer];
    if (gold === undefined)
      throw new TaskRowError(`Winogrande answer ${JSON.stringify(row.answer)} is not "1" or "2"`);
    const partial = (option: string) => row.sentence.slice(0, blank) + option;
    const continuation = ` ${pythonStrip(row.sentence.slice(blank + 1))}`;
    // The harness's zero-shot context is the document's text (the gold option's partial context);
    // `append_context` splits it on blank lines, drops the last part and puts each option's
    // partial context in its place.
    const ctx = partial(gold === 0 ? row.option1 : row.option2);
    const appendContext = (partialContext: string) => {
      const parts = ctx.split('\n\n');
      parts.pop();
      return parts.length > 0 ? [...parts, partialContext].join('\n\n') : partialContext;
    };
    return {
      requests: [row.option1, row.option2].map((option) => ({
        context: appendContext(partial(option)),
        continuation,
      })),
      gold,
      choices: [row.option1, row.option2],
    };
  },
  score(document, results) {
    expectResults('winogrande', document, results);
    return { acc: argmax(results.map((r) => r.logprob)) === document.gold ? 1 : 0 };
  },
};
