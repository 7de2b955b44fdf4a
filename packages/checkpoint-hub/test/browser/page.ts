// Bundled by test/browser-cache.test.ts and run in headless Chromium.
import {
  BrowserHubCache,
  type CheckpointProgress,
  HubClient,
  memoryStorage,
  openCheckpoint,
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

Object.assign(globalThis, { run, remove });
