import type { Task } from '../task.js';
import { TASK_TABLE } from '../task-table.js';
import { multipleChoiceDocument, scoreMultipleChoice } from './multiple-choice.js';

/** A row of `ybisk/piqa` (`plain_text`). */
export interface PiqaRow {
  goal: string;
  sol1: string;
  sol2: string;
  /** 0 or 1: which solution is right. */
  label: number;
}

/** `piqa`: `"Question: " + goal + "\nAnswer:"`, the two solutions as choices. */
export const piqa: Task<PiqaRow> = {
  ...TASK_TABLE.piqa,
  document(row) {
    return multipleChoiceDocument(
      `Question: ${row.goal}\nAnswer:`,
      [row.sol1, row.sol2],
      row.label,
    );
  },
  score: (document, results) => scoreMultipleChoice('piqa', document, results),
};
