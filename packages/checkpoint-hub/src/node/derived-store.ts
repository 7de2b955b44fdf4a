import { mkdir, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { storageKeyParts } from '../blob-storage.js';
import type { DerivedFileStore } from '../derived-files.js';
import { env } from '../env.js';
import { fileSink } from './file-sink.js';
import { fileSource } from './file-source.js';

/**
 * Where pythiajs keeps files it computes from checkpoints (quantized weights): `PYTHIAJS_CACHE`,
 * else `$XDG_CACHE_HOME/pythiajs`, else `~/.cache/pythiajs`. Apart from the Hugging Face cache,
 * which holds only what the Hub serves.
 */
export function defaultDerivedDir(): string {
  return (
    env('PYTHIAJS_CACHE') ?? join(env('XDG_CACHE_HOME') ?? join(homedir(), '.cache'), 'pythiajs')
  );
}

/**
 * A {@link DerivedFileStore} of files under `dir` (default {@link defaultDerivedDir}), a key's
 * parts as folders. A file is written as `<file>.partial` and renamed into place when complete
 * (`fileSink`), so a process that dies mid-write leaves no file a later load would trust.
 *
 * @example
 * ```ts
 * const model = await NeoXModel.load('EleutherAI/pythia-1.4b@step3000', {
 *   dtype: 'q4',
 *   quantizedCache: nodeDerivedStore('/scratch/pythiajs'),
 * });
 * ```
 */
export function nodeDerivedStore(dir: string = defaultDerivedDir()): DerivedFileStore {
  const path = (key: string) => join(dir, ...storageKeyParts(key));
  return {
    kind: 'files',
    open: async (key) => {
      const file = path(key);
      const found = await stat(file).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      return found?.isFile() ? fileSource(file) : undefined;
    },
    create: async (key) => {
      const file = path(key);
      await mkdir(dirname(file), { recursive: true });
      return fileSink(file);
    },
    delete: async (key) => {
      await rm(path(key), { force: true });
    },
  };
}
