/**
 * What the CLI does when a stream it writes to goes away, installed once by `bin.ts` so that every
 * command behaves the same.
 *
 * A reader that stops early (`pythia tokenize --file big.txt | head -c 10`) closes the pipe, and
 * the next write fails with EPIPE. Unix tools die of SIGPIPE there, silently; Node ignores SIGPIPE
 * and would instead crash with an unhandled 'error' event and its stack trace. The CLI exits at
 * once, with status 0 and nothing on stderr: the reader has what it asked for, and the rest of
 * the work (a long generation, say) is not wanted. Status 0 rather than the shell's 141 keeps
 * `set -o pipefail` scripts that cut the output short from failing.
 */
export function exitQuietlyOnBrokenPipe(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    // Any other failure to write the output is an error like the others: one line, status 1.
    process.stderr.write(`pythia: cannot write to standard output: ${error.message}\n`);
    process.exit(1);
  });
  // With stderr gone there is nowhere to report anything; the exit code still tells.
  process.stderr.on('error', () => {});
}
