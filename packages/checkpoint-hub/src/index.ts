export type { ByteSource } from './byte-source.js';
export { blobSource, bytesSource } from './byte-source.js';
export type { ShardIndex, WeightFiles } from './checkpoint-files.js';
export { parseShardIndex, pickWeightFiles } from './checkpoint-files.js';
export {
  CheckpointHubError,
  CorruptCheckpointError,
  EntryNotFoundError,
  ForbiddenPickleGlobalError,
  HubAccessError,
  HubNetworkError,
  IntegrityError,
  InvalidModelRefError,
  NotCachedError,
  RepoNotFoundError,
  RevisionNotFoundError,
  UnsupportedDtypeError,
} from './errors.js';
export type {
  DownloadTarget,
  FileProgress,
  HubClientOptions,
  RepoFile,
  RepoRef,
} from './hub-client.js';
export { HubClient } from './hub-client.js';
export type { ModelRef, PythiaModel } from './pythia.js';
export {
  PYTHIA_MODELS,
  PYTHIA_ORG,
  parseModelRef,
  pythiaCheckpointSteps,
  pythiaCheckpoints,
  pythiaModel,
} from './pythia.js';
export type { SafetensorsHeader } from './safetensors.js';
export { readSafetensorsHeader, readTensorBytes } from './safetensors.js';
export type { TensorData } from './tensor-data.js';
export { tensorData } from './tensor-data.js';
export type { TensorDtype, TensorEntry } from './tensor-entry.js';
export { DTYPE_BYTES, isUnusedBuffer } from './tensor-entry.js';
