/**
 * Where the browser cache keeps its entries. The Cache API is the default (it survives reloads
 * and is visible in devtools); the Origin Private File System serves where the Cache API is
 * missing or over its quota.
 */
export interface BlobStorage {
  readonly kind: 'cache-api' | 'opfs' | 'memory';
  get(key: string): Promise<Blob | undefined>;
  put(key: string, blob: Blob): Promise<void>;
  /**
   * An entry written as its bytes arrive, so that a download of any size is stored with a chunk
   * in memory, not the file: visible under `key` only once closed. Storages without it (memory)
   * are given whole blobs through `put`.
   */
  stream?(key: string): Promise<BlobStream>;
  delete(key: string): Promise<void>;
  keys(): Promise<string[]>;
}

/** An entry of a {@link BlobStorage} being written a chunk at a time. */
export interface BlobStream {
  /** Appends `chunk`; resolves when the storage can take the next (back-pressure). */
  write(chunk: Uint8Array): Promise<void>;
  /** Back to empty: the download starts over. */
  reset(): Promise<void>;
  /** The entry is complete: stores it under its key. */
  close(): Promise<void>;
  /** Stores nothing. */
  abort(): Promise<void>;
}

const BASE = 'https://pythiajs.invalid/';

/**
 * The URL of a key. A URL parser resolves `.` and `..` parts (also spelt `%2e`), so that
 * `refs/x/../../blobs/<sha>` would name the URL of `blobs/<sha>` and overwrite it: each
 * `/`-separated part is percent-encoded (a literal `%2e` stays literal), and `.`, `..` and empty
 * parts are refused. Keys of plain names, all the caches build, keep the URLs they always had.
 */
function keyUrl(key: string): string {
  return BASE + storageKeyParts(key).map(encodeURIComponent).join('/');
}

/**
 * The `/`-separated parts of a storage key, refusing empty, `.` and `..` parts: a key names one
 * entry of the store it is given to and can never reach outside it.
 */
export function storageKeyParts(key: string): string[] {
  const parts = key.split('/');
  if (parts.some((part) => part === '' || part === '.' || part === '..'))
    throw new RangeError(`a storage key cannot have empty, "." or ".." parts: ${key}`);
  return parts;
}

/** The key of a URL made by {@link keyUrl} (a part that does not decode is kept as it is). */
function urlKey(url: string): string {
  const decode = (part: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  };
  return url.slice(BASE.length).split('/').map(decode).join('/');
}

/** The Cache API (`caches`), keys mapped to URLs of a reserved host. */
export async function cacheApiStorage(name = 'pythiajs-hub'): Promise<BlobStorage> {
  const cache = await caches.open(name);
  return {
    kind: 'cache-api',
    get: async (key) => (await (await cache.match(keyUrl(key)))?.blob()) ?? undefined,
    put: (key, blob) =>
      cache.put(
        keyUrl(key),
        new Response(blob, { headers: { 'Content-Length': String(blob.size) } }),
      ),
    stream: async (key) => {
      const url = keyUrl(key);
      // A Response whose body is a stream the chunks are enqueued on: cache.put stores it as it
      // is read, and only once the stream closes; an errored stream stores nothing.
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      let stored!: Promise<void>;
      let drained: (() => void) | undefined;
      const begin = () => {
        const body = new ReadableStream<Uint8Array>(
          {
            start: (c) => {
              controller = c;
            },
            pull: () => {
              drained?.();
              drained = undefined;
            },
          },
          { highWaterMark: 4 },
        );
        stored = cache.put(url, new Response(body));
        stored.catch(() => {});
      };
      const stop = async (reason: string) => {
        controller.error(new Error(reason));
        await stored.catch(() => {});
      };
      begin();
      return {
        write: async (chunk) => {
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 1) > 0) return;
          // Waits for the cache to read on, or for its failure (a full quota) to surface here.
          await Promise.race([new Promise<void>((resolve) => (drained = resolve)), stored]);
        },
        reset: async () => {
          await stop('the download started over');
          begin();
        },
        close: async () => {
          controller.close();
          await stored;
        },
        abort: () => stop('the download was abandoned'),
      };
    },
    delete: async (key) => {
      await cache.delete(keyUrl(key));
    },
    keys: async () =>
      (await cache.keys()).filter((r) => r.url.startsWith(BASE)).map((r) => urlKey(r.url)),
  };
}

/** The Origin Private File System, one flat folder with keys as encoded file names. */
export async function opfsStorage(name = 'pythiajs-hub'): Promise<BlobStorage> {
  const root = await navigator.storage.getDirectory();
  const dir = await root.getDirectoryHandle(name, { create: true });
  const fileName = (key: string) => encodeURIComponent(key);
  return {
    kind: 'opfs',
    get: async (key) => {
      try {
        const file = await (await dir.getFileHandle(fileName(key))).getFile();
        // An empty file is one whose stream was never closed (a tab closed mid-download).
        return file.size > 0 ? file : undefined;
      } catch {
        return undefined;
      }
    },
    put: async (key, blob) => {
      const writable = await (
        await dir.getFileHandle(fileName(key), { create: true })
      ).createWritable();
      await writable.write(blob);
      await writable.close();
    },
    stream: async (key) => {
      const file = await opfsWritable(dir, fileName(key));
      let position = 0;
      return {
        write: async (chunk) => {
          await file.write(position, chunk);
          position += chunk.length;
        },
        reset: async () => {
          await file.truncate();
          position = 0;
        },
        close: () => file.close(),
        abort: () => file.abort(),
      };
    },
    delete: async (key) => {
      await dir.removeEntry(fileName(key)).catch(() => undefined);
    },
    keys: async () => {
      const out: string[] = [];
      for await (const key of (dir as unknown as { keys(): AsyncIterable<string> }).keys())
        out.push(decodeURIComponent(key));
      return out;
    },
  };
}

/** A file of an OPFS folder being written at positions (see {@link opfsWritable}). */
export interface OpfsWritable {
  write(position: number, data: Uint8Array): Promise<void>;
  /** Empties it. */
  truncate(): Promise<void>;
  /** Commits what was written, replacing the file's earlier contents in one step. */
  close(): Promise<void>;
  /** Discards what was written (and the empty entry, for a file that did not exist before). */
  abort(): Promise<void>;
}

/**
 * Opens file `name` of `dir` (created when missing) for positioned writes through the browser's
 * swap file: readers see the earlier contents, or an empty new file, until `close()`. Writes are
 * taken one at a time, in the order they are made.
 */
export async function opfsWritable(
  dir: FileSystemDirectoryHandle,
  name: string,
): Promise<OpfsWritable> {
  const existed = await dir.getFileHandle(name).then(
    () => true,
    () => false,
  );
  const handle = await dir.getFileHandle(name, { create: true });
  const writable = await handle.createWritable({ keepExistingData: false });
  let queue = Promise.resolve();
  const next = (step: () => Promise<void>) => {
    queue = queue.then(step);
    return queue;
  };
  return {
    write: (position, data) =>
      next(() =>
        writable.write({ type: 'write', position, data: data as Uint8Array<ArrayBuffer> }),
      ),
    truncate: () => next(() => writable.truncate(0)),
    close: () => next(() => writable.close()),
    abort: async () => {
      await queue.catch(() => undefined);
      await writable.abort();
      if (!existed) await dir.removeEntry(name).catch(() => undefined);
    },
  };
}

/** Entries in memory: for tests, and for runtimes with neither (nothing survives a reload). */
export function memoryStorage(): BlobStorage {
  const entries = new Map<string, Blob>();
  return {
    kind: 'memory',
    get: async (key) => entries.get(key),
    put: async (key, blob) => {
      entries.set(key, blob);
    },
    delete: async (key) => {
      entries.delete(key);
    },
    keys: async () => [...entries.keys()],
  };
}

/** The best storage this runtime has: the Cache API, else OPFS, else memory. */
export async function defaultBlobStorage(): Promise<BlobStorage> {
  if (typeof caches !== 'undefined') return cacheApiStorage();
  if (typeof navigator !== 'undefined' && typeof navigator.storage?.getDirectory === 'function')
    return opfsStorage();
  return memoryStorage();
}

export function isQuotaError(error: unknown): boolean {
  return (
    error instanceof DOMException && (error.name === 'QuotaExceededError' || error.code === 22)
  );
}
