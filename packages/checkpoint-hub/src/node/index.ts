export { defaultCacheDir, repoFolderName } from './cache-dir.js';
export { defaultDerivedDir, nodeDerivedStore } from './derived-store.js';
export type { FileSink } from './file-sink.js';
export { fileSink } from './file-sink.js';
export { fileSource } from './file-source.js';
export type { CachedRepo, CachedRevision, NodeHubCacheOptions } from './hub-cache.js';
export { NodeHubCache } from './hub-cache.js';
export { LocalFolderStore } from './local-folder.js';
