import { pythonStrip } from '../python-strings.js';
import type { Task } from '../task.js';
import { TASK_TABLE } from '../task-table.js';
import { multipleChoiceDocument, scoreMultipleChoice } from './multiple-choice.js';

/** A row of `allenai/sciq`. */
export interface SciqRow {
  question: string;
  distractor1: string;
  distractor2: string;
  distractor3: string;
  correct_answer: string;
  /** The supporting passage; empty in some rows. */
  support: string;
}

/**
 * `sciq`: `"{support}\nQuestion: {question}\nAnswer:"` stripped of white space at both ends (so
 * an empty support leaves no leading newline); the choices are the three distractors, then the
 * correct answer (gold 3).
 */
export const sciq: Task<SciqRow> = {
  ...TASK_TABLE.sciq,
  document(row) {
    return multipleChoiceDocument(
      pythonStrip(`${row.support}\nQuestion: ${row.question}\nAnswer:`),
      [row.distractor1, row.distractor2, row.distractor3, row.correct_answer],
      3,
    );
  },
  score: (document, results) => scoreMultipleChoice('sciq', document, results),
};
