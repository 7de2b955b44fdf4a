/** `6.2 MB`: decimal units, as download sizes are usually given. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Whole percent, never 100 before the end: a bar at 100% promises the work is done. */
export function percent(done: number, total: number): number {
  if (total <= 0) return 0;
  if (done >= total) return 100;
  return Math.min(99, Math.floor((done / total) * 100));
}

/** `1.2 s`, `340 ms`. */
export function formatSeconds(seconds: number): string {
  return seconds < 1 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(1)} s`;
}

/**
 * A token as text in a table cell: spaces at its ends as `·` (a leading space is how GPT-NeoX
 * marks a word start), tabs and line breaks as symbols, long runs of one character shortened
 * (`·×24`), and never empty.
 */
export function showToken(text: string): string {
  if (text === '') return '∅';
  const visible = text
    .replace(/\n/g, '↵')
    .replace(/\t/g, '⇥')
    .replace(/^ +| +$/g, (spaces) => '·'.repeat(spaces.length));
  return visible.replace(/(.)\1{4,}/gu, (run, char: string) => `${char}×${[...run].length}`);
}
