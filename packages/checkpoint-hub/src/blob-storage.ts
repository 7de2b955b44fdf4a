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
