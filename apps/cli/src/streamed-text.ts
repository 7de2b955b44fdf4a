import type { Writable } from 'node:stream';

/**
 * Text streamed to a terminal or a pipe piece by piece (generation), which ends with a newline
 * however it ends: finished, interrupted, or cut short by an error. Without it the shell's prompt,
 * or the error line on a terminal, would be glued to the last word, and `wc -l` would miss a line.
 */
export class StreamedText {
  private last = '';

  constructor(private readonly stream: Writable = process.stdout) {}

  write(text: string): void {
    if (text === '') return;
    this.stream.write(text);
    this.last = text.at(-1)!;
  }

  /** Ends the line written so far, if there is one (nothing written: nothing to end). */
  end(): void {
    if (this.last !== '' && this.last !== '\n') this.write('\n');
  }
}
