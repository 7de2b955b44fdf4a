import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Writes a file whole or not at all: the text goes to `<path>.partial` (plus a random suffix
 * when `unique`, for files that concurrent jobs may write), which is then renamed over `path`.
 * A reader, or a run that resumes after a kill, sees the old file or the new one, never half.
 */
export async function writeFileAtomic(path: string, text: string, unique = true): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const partial = unique
    ? `${path}.${process.pid}-${randomBytes(4).toString('hex')}.partial`
    : `${path}.partial`;
  try {
    await writeFile(partial, text);
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}
