import { pythonSplit } from '../python-strings.js';
import { expectResults, type Task } from '../task.js';
import { TASK_TABLE } from '../task-table.js';

/** A row of SuperGLUE's WSC (`aps/super_glue`, `wsc`). */
export interface WscRow {
  text: string;
  span1_index: number;
  span2_index: number;
  span1_text: string;
  span2_text: string;
  idx?: number;
  /** 1 when the pronoun (span 2) refers to the noun (span 1). */
  label: number;
}

/** The harness's `general_detokenize`. */
export function generalDetokenize(text: string): string {
  return text
    .replaceAll(" n't", "n't")
    .replaceAll(' )', ')')
    .replaceAll('( ', '(')
    .replaceAll('" ', '"')
    .replaceAll(' "', '"')
    .replace(/ (['.,])/g, '$1');
}

/**
 * `wsc` (SuperGLUE's binary WSC): the passage with the pronoun marked `*so*` (its word index
 * is `span2_index`; the text after it is cut at `len(pre) + len(pronoun) + 1` characters, as the
 * harness does, then detokenized), and the question whether the pronoun refers to the noun. Two
 * requests, `" yes"` then `" no"`; `acc` is 1 when `ll(yes) > ll(no)` matches the label (a tie
 * answers no).
 */
export const wsc: Task<WscRow> = {
  ...TASK_TABLE.wsc,
  document(row) {
    const raw = row.text;
    const pre = pythonSplit(raw).slice(0, row.span2_index).join(' ');
    const post = raw.slice(pre.length + row.span2_text.length + 1);
    const passage = generalDetokenize(`${pre} *${row.span2_text}*${post}`);
    const context =
      `Passage: ${passage}\n` +
      `Question: In the passage above, does the pronoun "*${row.span2_text}*" refer to "*${row.span1_text}*"?\n` +
      'Answer:';
    return {
      requests: [
        { context, continuation: ' yes' },
        { context, continuation: ' no' },
      ],
      gold: row.label ? 0 : 1,
      choices: ['yes', 'no'],
    };
  },
  score(document, results) {
    expectResults('wsc', document, results);
    const [yes, no] = results as [(typeof results)[0], (typeof results)[0]];
    const saysYes = yes.logprob > no.logprob;
    return { acc: saysYes === (document.gold === 0) ? 1 : 0 };
  },
};
