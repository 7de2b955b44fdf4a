import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { threadId } from 'node:worker_threads';
import { sleep } from '../retry.js';
import { writing } from './cache-errors.js';

/*
 * A lock file per blob keeps two processes off one download. A lock must never outlive its
 * holder, or every later download of that blob waits forever, so a holder records who it is
 * (pid, host, thread, a random token) and keeps a heartbeat (the file's mtime) fresh while it
 * works, and a waiter takes over a lock that is abandoned:
 *
 * - empty, unreadable or unparsable, and older than a short grace period: its holder died between
 *   creating and writing it, or another program left it (Python's filelock leaves empty `.lock`
 *   files in the same `.locks/` folder huggingface_hub uses);
 * - a heartbeat older than `staleMs`: its holder is gone or hung, whatever its PID now names
 *   (PIDs are reused after a crash; on another host a PID says nothing);
 * - on this host, a PID that is dead, or is this very thread's without a token it holds.
 */

/** Who holds a lock, as its file records it. */
export interface LockHolder {
  pid: number;
  /** Absent in locks of older versions, which held a bare PID: taken to be this host. */
  host?: string;
  /** The worker thread (0: the main thread): threads of one process share its PID. */
  thread?: number;
  /** Random, one per acquisition: tells apart two holders that had the same PID. */
  token?: string;
  /** When the lock was taken (ISO 8601). */
  started?: string;
}

/** Options of {@link withLock}; the defaults suit downloads, tests shorten them. */
export interface LockOptions {
  signal?: AbortSignal | undefined;
  /** A lock whose heartbeat (its file's mtime) is older than this is abandoned. Default 30 s. */
  staleMs?: number;
  /** How often the holder refreshes its heartbeat. Default: a quarter of `staleMs`, at most 5 s. */
  heartbeatMs?: number;
  /** An empty or unparsable lock younger than this is still being written. Default 2 s. */
  graceMs?: number;
  /** How often a waiter looks again. Default 100 ms. */
  pollMs?: number;
  /** How long a waiter waits before `onLongWait` is called, once. Default 2 s. */
  noticeAfterMs?: number;
  /** Called once when the wait gets long, with the holder when its lock file names one. */
  onLongWait?: (holder: LockHolder | undefined) => void;
}

type Timings = Required<Omit<LockOptions, 'signal' | 'onLongWait'>>;

/** What a waiter saw of a lock file: which file it is, its heartbeat, and its holder. */
interface Seen {
  dev: number;
  ino: number;
  mtimeMs: number;
  holder: LockHolder | undefined;
}

/**
 * Tokens of the locks this thread holds now: a lock naming our PID and thread with another token
 * was left by a process that had our PID before. (Other threads keep their own set.)
 */
const held = new Set<string>();

/**
 * Holds an exclusive lock file while `work` runs, so two processes (or two caches in one process)
 * never write one blob at the same time. The file is created with O_EXCL and holds JSON
 * `{pid, host, thread, token, started}`; its mtime is refreshed while `work` runs. An abandoned lock is
 * taken over (see the rules above), so the wait is bounded by `staleMs` unless a live holder
 * keeps working.
 *
 * @throws {CacheNotWritableError} the lock folder cannot be written.
 * @throws the signal's reason when it aborts the wait.
 */
export async function withLock<T>(
  path: string,
  work: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const staleMs = options.staleMs ?? 30_000;
  const timings: Timings = {
    staleMs,
    heartbeatMs: options.heartbeatMs ?? Math.max(10, Math.min(5_000, staleMs / 4)),
    graceMs: options.graceMs ?? 2_000,
    pollMs: options.pollMs ?? 100,
    noticeAfterMs: options.noticeAfterMs ?? 2_000,
  };
  const me: LockHolder = {
    pid: process.pid,
    host: hostname(),
    thread: threadId,
    token: randomBytes(12).toString('hex'),
    started: new Date().toISOString(),
  };
  const token = me.token!;
  await writing(dirname(path), () => mkdir(dirname(path), { recursive: true }));
  // Known before the file names it, so a waiter in this process never judges it abandoned.
  held.add(token);
  try {
    const handle = await acquire(path, me, timings, options);
    // Through the open descriptor, so the heartbeat follows this very file, wherever it is.
    const heartbeat = setInterval(() => {
      const now = new Date();
      handle.utimes(now, now).catch(() => undefined);
    }, timings.heartbeatMs);
    heartbeat.unref();
    try {
      return await work();
    } finally {
      clearInterval(heartbeat);
      await handle.close().catch(() => undefined);
      // Only our own file: if a waiter took ours over (we stalled past staleMs), it is theirs now.
      if ((await inspect(path))?.holder?.token === token) await rm(path, { force: true });
    }
  } finally {
    held.delete(token);
  }
}

async function acquire(
  path: string,
  me: LockHolder,
  timings: Timings,
  options: LockOptions,
): Promise<FileHandle> {
  const begun = Date.now();
  let told = false;
  for (;;) {
    options.signal?.throwIfAborted();
    const handle = await writing(path, () => create(path, me));
    if (handle) return handle;
    const seen = await inspect(path);
    if (!seen) continue; // released in between: try again at once
    if (isAbandoned(seen, Date.now(), timings)) {
      await writing(path, () => takeOver(path, seen, timings));
      continue;
    }
    if (!told && Date.now() - begun >= timings.noticeAfterMs) {
      told = true;
      options.onLongWait?.(seen.holder);
    }
    await sleep(timings.pollMs, options.signal);
  }
}

/** Creates the lock file with O_EXCL and writes who holds it; undefined when it exists. */
async function create(path: string, me: LockHolder): Promise<FileHandle | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'wx');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return undefined;
    // The folder went away (`pythia cache rm` of the repo): make it again and retry.
    if (code === 'ENOENT') {
      await mkdir(dirname(path), { recursive: true });
      return undefined;
    }
    throw error;
  }
  try {
    await handle.writeFile(JSON.stringify(me));
    return handle;
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(path, { force: true });
    throw error;
  }
}

/** Reads a lock file through one descriptor, so its identity and content belong together. */
async function inspect(path: string): Promise<Seen | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // Unreadable: judged by its mtime alone, as an unparsable one.
    const info = await stat(path).catch(() => undefined);
    return info && { dev: info.dev, ino: info.ino, mtimeMs: info.mtimeMs, holder: undefined };
  }
  try {
    const info = await handle.stat();
    const text = await handle.readFile('utf8').catch(() => '');
    return { dev: info.dev, ino: info.ino, mtimeMs: info.mtimeMs, holder: parseHolder(text) };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** The holder a lock file names: JSON of this version, or the bare PID older versions wrote. */
export function parseHolder(text: string): LockHolder | undefined {
  const trimmed = text.trim();
  if (/^[1-9]\d*$/.test(trimmed)) return { pid: Number(trimmed) };
  try {
    const value = JSON.parse(trimmed) as Record<string, unknown> | null;
    if (typeof value !== 'object' || value === null) return undefined;
    const { pid, host, thread, token, started } = value;
    if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
    return {
      pid,
      ...(typeof host === 'string' ? { host } : {}),
      ...(typeof thread === 'number' ? { thread } : {}),
      ...(typeof token === 'string' ? { token } : {}),
      ...(typeof started === 'string' ? { started } : {}),
    };
  } catch {
    return undefined;
  }
}

function isAbandoned(seen: Seen, now: number, timings: Timings): boolean {
  const age = now - seen.mtimeMs;
  const { holder } = seen;
  // A holder is between creating its file and writing it for microseconds: give it the grace.
  if (!holder) return age > timings.graceMs;
  if (age > timings.staleMs) return true;
  // A PID names a process on its own host only; elsewhere, the heartbeat alone decides.
  if ((holder.host ?? hostname()) !== hostname()) return false;
  if (holder.pid !== process.pid) return !alive(holder.pid);
  // Our PID and thread with a token we do not hold: a process before us had this PID and died
  // holding it. Another thread of ours is judged by its heartbeat.
  if ((holder.thread ?? 0) !== threadId) return false;
  return holder.token === undefined || !held.has(holder.token);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes an abandoned lock so that waiters can race for a new one with O_EXCL. Only the waiter
 * holding the breaker file (`<lock>.break`, itself created with O_EXCL and held for a moment) may
 * remove a lock, and it looks again under the breaker first: a lock that another waiter already
 * replaced (a new holder's, with a fresh heartbeat) is then seen as live and left alone. Renaming
 * the lock aside instead would leave a window in which a live holder's file is missing and a
 * third waiter creates its own.
 */
async function takeOver(path: string, seen: Seen, timings: Timings): Promise<void> {
  const breaker = `${path}.break`;
  let handle: FileHandle;
  try {
    handle = await open(breaker, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Another waiter is breaking it now. A breaker older than the grace period was left by a
    // waiter that died in those few milliseconds: clear it, and look again on the next poll.
    const info = await stat(breaker).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > timings.graceMs) await rm(breaker, { force: true });
    return;
  }
  try {
    const now = await inspect(path);
    if (
      now !== undefined &&
      now.dev === seen.dev &&
      now.ino === seen.ino &&
      isAbandoned(now, Date.now(), timings)
    ) {
      await rm(path, { force: true });
    }
  } finally {
    await handle.close().catch(() => undefined);
    await rm(breaker, { force: true });
  }
}
