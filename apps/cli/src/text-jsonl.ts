import { UsageError } from './errors.js';

/**
 * The texts of a JSONL file with a `"text"` string on each line (the layout of most text data
 * sets: The Pile, LAMBADA, a Hugging Face `datasets` export), in order; blank lines are skipped.
 *
 * @throws {UsageError} a line that is not JSON or has no `"text"` string, named by its number;
 *   a file without any line.
 */
export function parseTextJsonl(jsonl: string, file: string): string[] {
  const texts: string[] = [];
  for (const [n, line] of jsonl.split('\n').entries()) {
    if (line.trim() === '') continue;
    let text: unknown;
    try {
      text = (JSON.parse(line) as { text?: unknown } | null)?.text;
    } catch {
      throw new UsageError(`${file}:${n + 1} is not JSON; give one {"text": …} object per line`);
    }
    if (typeof text !== 'string')
      throw new UsageError(
        `${file}:${n + 1} has no "text" string; give one {"text": …} object per line`,
      );
    texts.push(text);
  }
  if (texts.length === 0) throw new UsageError(`${file} holds no lines of {"text": …}`);
  return texts;
}
