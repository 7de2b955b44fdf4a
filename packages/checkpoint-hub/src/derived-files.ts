import { opfsWritable, storageKeyParts } from './blob-storage.js';
import { type ByteSource, blobSource, bytesSource } from './byte-source.js';
import { memorySink, type RandomAccessSink } from './random-access-sink.js';

/**
 * Files computed from a checkpoint and kept so that they are computed once: a quantized copy of
 * its weights, for one. Keys are `/`-separated paths of plain names (`quantized/v1/<repo>/<commit>/q4.safetensors`);
 * a file becomes visible only when the sink that wrote it is closed, so a reader never opens a
 * half-written one, and an aborted write leaves nothing.
 *
 * Stores: `nodeDerivedStore()` of `@pythiajs/checkpoint-hub/node` (files under `~/.cache/pythiajs`),
 * {@link opfsDerivedStore} in browsers, {@link memoryDerivedStore} for tests.
 */
export interface DerivedFileStore {
  readonly kind: 'files' | 'opfs' | 'memory';
  /** The file under `key` as random-access bytes, or `undefined` when there is none. */
  open(key: string): Promise<(ByteSource & { close?(): Promise<void> }) | undefined>;
  /** A sink for a new file under `key`: `close()` makes it the file (replacing any), `abort()` drops it. */
  create(key: string): Promise<RandomAccessSink>;
  /** Removes the file under `key`, if any. */
  delete(key: string): Promise<void>;
}

/** Files in memory: for tests (nothing survives the process). */
export function memoryDerivedStore(): DerivedFileStore & { keys(): string[] } {
  const files = new Map<string, Uint8Array>();
  return {
    kind: 'memory',
    open: async (key) => {
      storageKeyParts(key);
      const bytes = files.get(key);
      return bytes ? bytesSource(bytes) : undefined;
    },
    create: async (key) => {
      storageKeyParts(key);
      const sink = memorySink();
      return {
        write: (position, bytes) => sink.write(position, bytes),
        abort: () => sink.abort(),
        close: async () => {
          await sink.close();
          files.set(key, sink.bytes());
        },
      };
    },
    delete: async (key) => {
      files.delete(key);
    },
    keys: () => [...files.keys()],
  };
}

/**
 * Files in the browser's Origin Private File System, one flat folder (`pythiajs-derived`) with
 * keys as encoded file names. Writes go to the browser's swap file of a writable stream, which
 * `close()` commits in one step and `abort()` discards: a reload mid-write leaves the earlier
 * file, or an empty one, which `open` treats as none. Positioned writes stream a file of any size
 * with a block in memory.
 */
export async function opfsDerivedStore(name = 'pythiajs-derived'): Promise<DerivedFileStore> {
  const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(name, {
    create: true,
  });
  const fileName = (key: string) => encodeURIComponent(storageKeyParts(key).join('/'));
  return {
    kind: 'opfs',
    open: async (key) => {
      let blob: Blob;
      try {
        blob = await (await dir.getFileHandle(fileName(key))).getFile();
      } catch (error) {
        if ((error as DOMException)?.name === 'NotFoundError') return undefined;
        throw error;
      }
      // A file being written for the first time is there, empty, until its stream is closed.
      return blob.size === 0 ? undefined : blobSource(blob);
    },
    create: async (key) => {
      const file = await opfsWritable(dir, fileName(key));
      return { write: file.write, close: file.close, abort: file.abort };
    },
    delete: async (key) => {
      await dir.removeEntry(fileName(key)).catch(() => undefined);
    },
  };
}
