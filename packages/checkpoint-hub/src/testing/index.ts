export type { FakeCommit, FakeHubOptions, FakeRepo, Fault, RecordedRequest } from './fake-hub.js';
export { FakeHub, gitBlobId, sha256Hex } from './fake-hub.js';
export { damagedBlobs, folderState } from './folder-state.js';
