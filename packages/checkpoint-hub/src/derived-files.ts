import { storageKeyParts } from './blob-storage.js';
import { type ByteSource, bytesSource, checkRange } from './byte-source.js';
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

// The few members of the File System Access API used here (not in every TypeScript DOM lib).
interface WritableFile {
  write(chunk: { type: 'write'; position: number; data: Uint8Array }): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}
interface FileHandle {
  getFile(): Promise<Blob>;
  createWritable(options: { keepExistingData: boolean }): Promise<WritableFile>;
}
interface DirectoryHandle {
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<DirectoryHandle>;
  getFileHandle(name: string, options?: { create?: boolean }): Promise<FileHandle>;
  removeEntry(name: string): Promise<void>;
}

/**
 * Files in the browser's Origin Private File System, one flat folder (`pythiajs-derived`) with
 * keys as encoded file names. Writes go to the browser's swap file of a writable stream, which
 * `close()` commits in one step and `abort()` discards: a reload mid-write leaves the earlier
 * file, or an empty one, which `open` treats as none. Positioned writes stream a file of any size
 * with a block in memory.
 */
export async function opfsDerivedStore(name = 'pythiajs-derived'): Promise<DerivedFileStore> {
  const storage = (
    navigator as unknown as { storage: { getDirectory(): Promise<DirectoryHandle> } }
  ).storage;
  const dir = await (await storage.getDirectory()).getDirectoryHandle(name, { create: true });
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
      if (blob.size === 0) return undefined;
      return {
        size: blob.size,
        read: async (offset, length, into) => {
          checkRange(offset, length, blob.size);
          const bytes = new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
          if (!into) return bytes;
          into.set(bytes);
          return into.subarray(0, length);
        },
      };
    },
    create: async (key) => {
      const existed = await dir.getFileHandle(fileName(key)).then(
        () => true,
        () => false,
      );
      const handle = await dir.getFileHandle(fileName(key), { create: true });
      const writable = await handle.createWritable({ keepExistingData: false });
      // The stream takes one write at a time: chained, so that concurrent writes queue in order.
      let queue = Promise.resolve();
      return {
        write: (position, data) => {
          queue = queue.then(() => writable.write({ type: 'write', position, data }));
          return queue;
        },
        close: async () => {
          await queue;
          await writable.close();
        },
        abort: async () => {
          await queue.catch(() => undefined);
          await writable.abort();
          // The empty entry `create` made for a new file goes too.
          if (!existed) await dir.removeEntry(fileName(key)).catch(() => undefined);
        },
      };
    },
    delete: async (key) => {
      await dir.removeEntry(fileName(key)).catch(() => undefined);
    },
  };
}
