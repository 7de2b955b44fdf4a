import type { Writable } from 'node:stream';

/**
 * ANSI styling for a stream, only when it is a terminal and `NO_COLOR` is unset (no-color.org):
 * piped output and `--json` stay plain.
 */
export function styler(stream: Writable & { isTTY?: boolean }) {
  const on = stream.isTTY === true && !process.env.NO_COLOR;
  const wrap = (open: number, close: number) => (text: string) =>
    on ? `\u001b[${open}m${text}\u001b[${close}m` : text;
  return { bold: wrap(1, 22), dim: wrap(2, 22), yellow: wrap(33, 39), red: wrap(31, 39) };
}

/** A warning line on stderr (never stdout, so `--json` and `--csv` output stay clean). */
export function warn(message: string): void {
  process.stderr.write(`${styler(process.stderr).yellow('pythia: warning:')} ${message}\n`);
}

/** Information for a person at a terminal (stats, progress notes): stderr, and only on a TTY. */
export function note(message: string): void {
  if (process.stderr.isTTY) process.stderr.write(`${styler(process.stderr).dim(message)}\n`);
}
