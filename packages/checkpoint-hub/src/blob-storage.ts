/**
 * Where the browser cache keeps its entries. The Cache API is the default (it survives reloads
 * and is visible in devtools); the Origin Private File System serves where the Cache API is
 * missing or over its quota.
 */
export interface BlobStorage {
  readonly kind: 'cache-api' | 'opfs' | 'memory';
  get(key: string): Promise<Blob | undefined>;
  put(key: string, blob: Blob): Promise<void>;
  delete(key: string): Promise<void>;
  keys(): Promise<string[]>;
}

const BASE = 'https://pythiajs.invalid/';

/** The Cache API (`caches`), keys mapped to URLs of a reserved host. */
export async function cacheApiStorage(name = 'pythiajs-hub'): Promise<BlobStorage> {
  const cache = await caches.open(name);
  return {
    kind: 'cache-api',
    get: async (key) => (await (await cache.match(BASE + key))?.blob()) ?? undefined,
    put: (key, blob) =>
      cache.put(
        BASE + key,
        new Response(blob, { headers: { 'Content-Length': String(blob.size) } }),
      ),
    delete: async (key) => {
      await cache.delete(BASE + key);
    },
    keys: async () => (await cache.keys()).map((r) => r.url.slice(BASE.length)),
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
        return await (await dir.getFileHandle(fileName(key))).getFile();
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
