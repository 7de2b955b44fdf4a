import { type Task, TaskRowError } from '../task.js';
import { TASK_TABLE } from '../task-table.js';
import { multipleChoiceDocument, scoreMultipleChoice } from './multiple-choice.js';

/** A row of `allenai/ai2_arc` (`ARC-Easy` or `ARC-Challenge`). */
export interface ArcRow {
  id: string;
  question: string;
  choices: { text: string[]; label: string[] };
  /** "A"–"E", or "1"–"5" in some rows. */
  answerKey: string;
}

const NUM_TO_LETTER: Record<string, string> = { 1: 'A', 2: 'B', 3: 'C', 4: 'D', 5: 'E' };
const LETTERS = ['A', 'B', 'C', 'D', 'E'];

/**
 * The ARC document: `"Question: " + question + "\nAnswer:"`, the choices' texts in order, and
 * the gold index of the answer key as a letter ("1"–"5" read as "A"–"E"), whatever the
 * choices' own labels say.
 */
function arcDocument(row: ArcRow) {
  const key = NUM_TO_LETTER[row.answerKey] ?? row.answerKey;
  const gold = LETTERS.indexOf(key);
  if (gold < 0)
    throw new TaskRowError(
      `ARC row ${row.id}: answer key ${JSON.stringify(row.answerKey)} is not A–E or 1–5`,
    );
  return multipleChoiceDocument(`Question: ${row.question}\nAnswer:`, row.choices.text, gold);
}

/** `arc_easy`: ARC-Easy's test split. */
export const arcEasy: Task<ArcRow> = {
  ...TASK_TABLE.arc_easy,
  document: arcDocument,
  score: (document, results) => scoreMultipleChoice('arc_easy', document, results),
};

/** `arc_challenge`: ARC-Challenge's test split, posed as `arc_easy`. */
export const arcChallenge: Task<ArcRow> = {
  ...TASK_TABLE.arc_challenge,
  document: arcDocument,
  score: (document, results) => scoreMultipleChoice('arc_challenge', document, results),
};
