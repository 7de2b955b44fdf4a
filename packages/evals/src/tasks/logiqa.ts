import { pythonStrip } from '../python-strings.js';
import { type Task, TaskRowError } from '../task.js';
import { TASK_TABLE } from '../task-table.js';
import { multipleChoiceDocument, scoreMultipleChoice } from './multiple-choice.js';

/** A row of `EleutherAI/logiqa` (`logiqa`): the harness's own LogiQA loading script. */
export interface LogiqaRow {
  /** "a"–"d". */
  label: string;
  context: string;
  question: string;
  options: string[];
}

const LETTERS = ['a', 'b', 'c', 'd'];

/**
 * `logiqa`: `"Passage: {context}\nQuestion: {question}\nChoices:\n"`, then `"A. {option}\n"`
 * for each of the first four options, then `"Answer:"`; the options are the choices.
 */
export const logiqa: Task<LogiqaRow> = {
  ...TASK_TABLE.logiqa,
  document(row) {
    let prompt = `Passage: ${row.context}\nQuestion: ${row.question}\nChoices:\n`;
    row.options.slice(0, LETTERS.length).forEach((option, i) => {
      prompt += `${LETTERS[i]!.toUpperCase()}. ${option}\n`;
    });
    prompt += 'Answer:';
    const gold = LETTERS.indexOf(row.label);
    if (gold < 0) throw new TaskRowError(`LogiQA label ${JSON.stringify(row.label)} is not a–d`);
    return multipleChoiceDocument(prompt, row.options, gold);
  },
  score: (document, results) => scoreMultipleChoice('logiqa', document, results),
};

/**
 * The rows of a LogiQA text file (`Test.txt` of github.com/lgw863/LogiQA-dataset) as the loading
 * script makes them: blocks separated by blank lines; the label line, the context, the question,
 * then options with their `A.` prefix cut; every text but the label normalised as
 * `text.replace(".", ". ").strip()`.
 */
export function parseLogiqaText(text: string): LogiqaRow[] {
  const normalize = (s: string) => pythonStrip(s.replaceAll('.', '. '));
  return pythonStrip(text)
    .split('\n\n')
    .map((block) => {
      const lines = block.split('\n');
      return {
        label: pythonStrip(lines[0] ?? ''),
        context: normalize(lines[1] ?? ''),
        question: normalize(lines[2] ?? ''),
        options: lines.slice(3).map((option) => normalize(option.slice(2))),
      };
    });
}
