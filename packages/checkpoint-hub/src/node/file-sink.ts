import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import type { RandomAccessSink } from '../random-access-sink.js';

/** A {@link RandomAccessSink} writing a file on disk (see {@link fileSink}). */
export interface FileSink extends RandomAccessSink {
  /** Where the file is once closed. */
  readonly path: string;
  /** Where it is written until then: `<path>.partial`. */
  readonly partialPath: string;
}

/**
 * A file written in place, a positioned write at a time, as `<path>.partial`: `close()` renames
 * it to `path` (replacing a file there only then, so a reader never sees a half-written one and an
 * earlier file survives a failed run), `abort()` deletes it. A `.partial` left by an earlier
 * process that died is overwritten.
 *
 * Errors are Node's own (`ENOENT` for a missing folder, `ENOSPC` for a full disk …), naming the
 * path; after a failed write or close, `abort()` still removes the partial file.
 *
 * @example
 * ```ts
 * import { SafetensorsWriter } from '@pythiajs/checkpoint-hub';
 * import { fileSink } from '@pythiajs/checkpoint-hub/node';
 * const writer = await SafetensorsWriter.create(await fileSink('acts.safetensors'), tensors);
 * ```
 */
export async function fileSink(path: string): Promise<FileSink> {
  const partialPath = `${path}.partial`;
  const handle: FileHandle = await open(partialPath, 'w');
  let state: 'open' | 'closing' | 'closed' | 'failed' | 'aborted' = 'open';
  let handleOpen = true;
  const pending = new Set<Promise<unknown>>();
  const closeHandle = async () => {
    if (!handleOpen) return;
    handleOpen = false;
    await handle.close();
  };

  const writeAll = async (position: number, bytes: Uint8Array) => {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await handle.write(
        bytes,
        done,
        bytes.length - done,
        position + done,
      );
      done += bytesWritten;
    }
  };

  return {
    path,
    partialPath,
    async write(position, bytes) {
      if (state !== 'open')
        throw new Error(`cannot write ${partialPath}: the file sink is ${state}`);
      if (!Number.isSafeInteger(position) || position < 0)
        throw new RangeError(`cannot write ${partialPath} at position ${position}`);
      const write = writeAll(position, bytes);
      pending.add(write);
      try {
        await write;
      } finally {
        pending.delete(write);
      }
    },
    async close() {
      if (state === 'closed') return;
      if (state !== 'open')
        throw new Error(`cannot close ${partialPath}: the file sink is ${state}`);
      state = 'closing';
      try {
        await Promise.allSettled(pending);
        await closeHandle();
        await rename(partialPath, path);
        state = 'closed';
      } catch (error) {
        // Left for abort() to discard; no more writes.
        state = 'failed';
        throw error;
      }
    },
    async abort() {
      if (state === 'closed' || state === 'aborted') return;
      state = 'aborted';
      await Promise.allSettled(pending);
      await closeHandle().catch(() => {});
      await rm(partialPath, { force: true });
    },
  };
}
