// Bundled by test/browser-cache.test.ts and run in headless Chromium.
import {
  type BlobStorage,
  BrowserHubCache,
  type CheckpointProgress,
  cacheApiStorage,
  HubClient,
  memoryStorage,
  openCheckpoint,
  opfsDerivedStore,
  opfsStorage,
} from '../../src/index.js';

const TENSOR = 'gpt_neox.final_layer_norm.weight';

async function run(options: {
  endpoint: string;
  offline: boolean;
  storage: 'default' | 'opfs' | 'memory';
}) {
  const storage =
    options.storage === 'opfs'
      ? await opfsStorage()
      : options.storage === 'memory'
        ? memoryStorage()
        : undefined;
  const cache = await BrowserHubCache.create({
    client: new HubClient({ endpoint: options.endpoint, retries: 0, retryDelayMs: 1 }),
    offline: options.offline,
    ...(storage ? { storage } : {}),
  });
  const progress: CheckpointProgress[] = [];
  const checkpoint = await openCheckpoint('test/tiny-neox-f16', 'main', cache, {
    onProgress: (p) => progress.push(p),
  });
  const bytes = await checkpoint.read(TENSOR);
  return {
    storage: cache.storageKind,
    format: checkpoint.format,
    commit: checkpoint.commit,
    tensors: checkpoint.tensors.size,
    bytes: Array.from(bytes),
    totals: [...new Set(progress.map((p) => p.total))],
    last: progress.at(-1)?.loaded,
    list: await cache.list(),
  };
}

async function remove(endpoint: string) {
  const cache = await BrowserHubCache.create({
    client: new HubClient({ endpoint, retries: 0 }),
    offline: true,
  });
  await cache.remove('test/tiny-neox-f16');
  return cache.list();
}

/** A file of opfsDerivedStore: written at positions, closed, read back; an aborted one leaves nothing. */
async function derived() {
  const store = await opfsDerivedStore();
  const key = 'quantized/v1/EleutherAI/pythia-70m/abc/q4.safetensors';
  const sink = await store.create(key);
  await Promise.all([sink.write(4, Uint8Array.of(5, 6)), sink.write(0, Uint8Array.of(1, 2, 3, 4))]);
  const beforeClose = (await store.open(key))?.size ?? null;
  await sink.close();
  const source = (await store.open(key))!;
  const read = Array.from(await source.read(1, 4));
  const aborted = await store.create('other/key');
  await aborted.write(0, Uint8Array.of(1));
  await aborted.abort();
  const afterAbort = (await store.open('other/key'))?.size ?? null;
  await store.delete(key);
  return {
    kind: store.kind,
    beforeClose,
    size: source.size,
    read,
    afterAbort,
    deleted: (await store.open(key)) === undefined,
  };
}

/**
 * Opens the weights through a BrowserHubCache on `storage`, recording how each entry reached it:
 * `put` whole, or `stream`ed as it arrived. Returns the tensor's bytes, or the error's name.
 */
async function streamed(options: { endpoint: string; storage: 'cache-api' | 'opfs' }) {
  const inner = options.storage === 'opfs' ? await opfsStorage() : await cacheApiStorage();
  const puts: string[] = [];
  const streams: string[] = [];
  const storage: BlobStorage = {
    kind: inner.kind,
    get: (key) => inner.get(key),
    put: (key, blob) => {
      puts.push(key);
      return inner.put(key, blob);
    },
    stream: (key) => {
      streams.push(key);
      return inner.stream!(key);
    },
    delete: (key) => inner.delete(key),
    keys: () => inner.keys(),
  };
  const cache = await BrowserHubCache.create({
    client: new HubClient({ endpoint: options.endpoint, retries: 2, retryDelayMs: 1 }),
    storage,
  });
  try {
    const checkpoint = await openCheckpoint('test/tiny-neox-f16', 'main', cache);
    const bytes = Array.from(await checkpoint.read(TENSOR));
    return { bytes, puts, streams, list: await cache.list() };
  } catch (error) {
    return { error: (error as Error).name, puts, streams, list: await cache.list() };
  }
}

Object.assign(globalThis, { run, remove, derived, streamed });
