import { spawn } from 'node:child_process';
import { fstatSync } from 'node:fs';
import { isDawnNotice } from './dawn-notices.js';

/** Set in the relayed process, which must not relay again. */
const RELAYED = 'PYTHIA_STDERR_RELAYED';

/** The commands that open the GPU, where Dawn prints its notices (see dawn-notices.ts). */
const GPU_COMMANDS = new Set([
  'generate',
  'logits',
  'score',
  'sweep',
  'lens',
  'activations',
  'eval',
  'bench',
]);

/**
 * Whether this run goes through {@link relayStderr}: a GPU command whose stderr is a socket (what
 * Node's `child_process` and most programs that capture output give) or a regular file. On a
 * terminal or a shell pipe, the CLI filters Dawn's notices in-process instead (see
 * native-stderr.ts), which the relay could not do without taking the terminal away from the
 * command; for a socket or a file it cannot, lacking `dup2` in Node.
 */
export function needsStderrRelay(argv: readonly string[]): boolean {
  if (process.env[RELAYED] !== undefined || process.platform === 'win32') return false;
  const command = argv.slice(2).find((arg) => !arg.startsWith('-'));
  if (command === undefined || !GPU_COMMANDS.has(command)) return false;
  try {
    // bigint: on Node 20, a plain fstatSync here makes the import of the commands that follows
    // resolve cli-progress's own dependencies wrongly (MODULE_NOT_FOUND 'string-width').
    const stderr = fstatSync(2, { bigint: true });
    return !(stderr.isCharacterDevice() || stderr.isFIFO());
  } catch {
    return false; // stderr closed: nothing to keep clean
  }
}

/**
 * Runs the same command in a child process whose stderr comes through this one, line by line,
 * less Dawn's notices; stdin and stdout are the child's directly. The child sees stderr as this
 * process does (not a terminal), so it prints the same. Resolves to the child's exit code; a
 * child killed by a signal ends this process with that signal.
 */
export function relayStderr(argv: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, ...argv.slice(1)], {
      env: { ...process.env, [RELAYED]: '1' },
      stdio: ['inherit', 'inherit', 'pipe'],
    });
    let pending = '';
    const pass = (text: string) => {
      const kept = text
        .split('\n')
        .filter((line) => !isDawnNotice(line))
        .join('\n');
      if (kept !== '') process.stderr.write(kept);
    };
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      // Whole lines only, so that a notice split across chunks is still recognised.
      const text = pending + chunk;
      const end = text.lastIndexOf('\n') + 1;
      pending = text.slice(end);
      if (end > 0) pass(text.slice(0, end));
    });
    // A signal for this process is the command's to handle (Ctrl-C reaches both).
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    for (const signal of signals) process.on(signal, forward);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (pending !== '') pass(pending);
      for (const s of signals) process.off(s, forward);
      if (signal) process.kill(process.pid, signal);
      else resolve(code ?? 1);
    });
  });
}
