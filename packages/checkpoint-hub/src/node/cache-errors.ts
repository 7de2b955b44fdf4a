import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CacheNotWritableError, DiskFullError } from '../errors.js';

/*
 * The one place where a failed write into the cache becomes an error that says what happened:
 * a full disk, or a cache that cannot be written at all. Everything else (a bug, an unexpected
 * errno) is passed on as it is.
 */

/** What a failed write is about: the bytes it still needed, when it was writing a download. */
export interface WriteContext {
  needed?: number;
}

/** Errno codes of a full disk (or a quota, which says the same to the user). */
const DISK_FULL = new Set(['ENOSPC', 'EDQUOT']);
/** Errno codes of a cache that cannot be written: a read-only mount, or no permission. */
const NOT_WRITABLE = new Set(['EROFS', 'EACCES', 'EPERM']);

function errno(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * `error` as {@link DiskFullError} (naming the free bytes where the platform tells them) or
 * {@link CacheNotWritableError} when its errno says so; any other error unchanged.
 */
export async function cacheWriteError(
  error: unknown,
  path: string,
  context: WriteContext = {},
): Promise<unknown> {
  const code = errno(error);
  if (code !== undefined && DISK_FULL.has(code))
    return new DiskFullError(path, await freeBytes(path), context.needed);
  if (code !== undefined && NOT_WRITABLE.has(code)) return new CacheNotWritableError(path, code);
  return error;
}

/** Runs one write into the cache (mkdir, open, write, rename, symlink…), typing its failure. */
export async function writing<T>(
  path: string,
  operation: () => Promise<T>,
  context?: WriteContext,
): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw await cacheWriteError(error, path, context);
  }
}

/**
 * Bytes an unprivileged process may still write on the file system holding `path` (following
 * links), or undefined where the platform does not tell (no `statfs`, or it fails).
 */
export async function freeBytes(path: string): Promise<number | undefined> {
  // A file that could not be created has no file system yet: ask its folder's.
  for (const candidate of [path, dirname(path)]) {
    try {
      const stats = await statfs(candidate);
      return Number(stats.bavail) * Number(stats.bsize);
    } catch {}
  }
  return undefined;
}
