// Python's string operations where JavaScript's differ, for prompts built exactly as the harness
// built them.

/** The code points for which Python's `str.isspace()` is true. */
const PYTHON_SPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001,
  0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f,
  0x205f, 0x3000,
]);

export function isPythonSpace(char: string): boolean {
  return PYTHON_SPACE.has(char.codePointAt(0)!);
}

/** `str.strip()`: Python's white space from both ends (JavaScript's `trim` differs on a few). */
export function pythonStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isPythonSpace(text[start]!)) start++;
  while (end > start && isPythonSpace(text[end - 1]!)) end--;
  return text.slice(start, end);
}

/** `str.split()` with no separator: runs of Python white space split, none at either end. */
export function pythonSplit(text: string): string[] {
  const words: string[] = [];
  let word = '';
  for (const char of text) {
    if (isPythonSpace(char)) {
      if (word !== '') words.push(word);
      word = '';
    } else {
      word += char;
    }
  }
  if (word !== '') words.push(word);
  return words;
}
