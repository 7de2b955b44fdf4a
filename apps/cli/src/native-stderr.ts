import {
  type BigIntStats,
  closeSync,
  fstatSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const STDERR = 2;

function fstat(fd: number): BigIntStats | undefined {
  try {
    // bigint: see stderr-relay.ts (a plain fstatSync upsets module resolution on Node 20).
    return fstatSync(fd, { bigint: true });
  } catch {
    return undefined;
  }
}

/**
 * Whether file descriptor 2 can be swapped out and back: Node has no `dup2`, so it is closed and
 * reopened through `/dev/fd/2`, which is safe only for a terminal or a pipe. (A regular file
 * reopened gets an offset of its own: with `>log 2>&1`, stdout's writes would overwrite what
 * stderr appended. A socket cannot be reopened at all.) Descriptors 0 and 1 must be open so that
 * the lowest free one, which `open` returns, is 2; and no stderr write may be pending.
 */
function canSwapStderr(): boolean {
  if (process.platform === 'win32') return false;
  const stderr = fstat(STDERR);
  if (!stderr || !(stderr.isFIFO() || stderr.isCharacterDevice())) return false;
  if (!fstat(0) || !fstat(1)) return false;
  return process.stderr.writableLength === 0;
}

/**
 * Runs `fn` with what native code writes to stderr (file descriptor 2, below Node's
 * `process.stderr`) captured, then writes the captured lines that `drop` does not match to
 * stderr. For notices that a native library prints with `fprintf(stderr, …)`, which no JavaScript
 * API can intercept. Only for synchronous native work: the capture ends when `fn` returns.
 *
 * Where the descriptor cannot be swapped safely (Windows, stderr a regular file or socket), `fn`
 * simply runs and the notices pass through (the CLI relays such a stderr through a filter
 * process instead: see stderr-relay.ts).
 */
export function filterNativeStderr<T>(fn: () => T, drop: (line: string) => boolean): T {
  if (!canSwapStderr()) return fn();
  let saved: number;
  let dir: string;
  try {
    // A second descriptor for the same terminal or pipe, to reopen fd 2 from afterwards.
    saved = openSync('/dev/fd/2', 'a');
  } catch {
    return fn();
  }
  try {
    dir = mkdtempSync(join(tmpdir(), 'pythia-stderr-'));
  } catch {
    closeSync(saved);
    return fn();
  }
  const capture = join(dir, 'stderr');
  closeSync(STDERR);
  // The lowest free descriptor, so 2: 0 and 1 are open, and the CLI calls this with no file
  // operation in flight (between awaited steps), so no other thread takes it in between.
  const fd = openSync(capture, 'w');
  const restore = () => {
    closeSync(fd);
    openSync(`/dev/fd/${saved}`, 'a'); // 2 again, the terminal or pipe it was
    closeSync(saved);
  };
  if (fd !== STDERR) {
    // Cannot happen as said above; if it did, capture nothing rather than lose stderr.
    restore();
    rmSync(dir, { recursive: true, force: true });
    return fn();
  }
  try {
    return fn();
  } finally {
    restore();
    const captured = readFileSync(capture, 'utf8');
    rmSync(dir, { recursive: true, force: true });
    const kept = captured.split('\n').filter((line) => line !== '' && !drop(line));
    if (kept.length > 0) process.stderr.write(`${kept.join('\n')}\n`);
  }
}
