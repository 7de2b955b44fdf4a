export type { BlobStorage, BlobStream } from './blob-storage.js';
export { cacheApiStorage, memoryStorage, opfsStorage } from './blob-storage.js';
export type { BrowserCachedRevision, BrowserHubCacheOptions } from './browser-cache.js';
export { BrowserHubCache } from './browser-cache.js';
export type { ByteSource } from './byte-source.js';
export { blobSource, bytesSource } from './byte-source.js';
export { isCommitId, isRepoFilePath, isRepoId, isRevisionName } from './cache-paths.js';
export type {
  Checkpoint,
  CheckpointProgress,
  OpenCheckpointOptions,
  TensorRange,
} from './checkpoint.js';
export { openCheckpoint, tensorRange } from './checkpoint.js';
export type { ShardIndex, WeightFiles } from './checkpoint-files.js';
export { parseShardIndex, pickWeightFiles } from './checkpoint-files.js';
export { parseConfigJson, readConfigJson } from './config-json.js';
export type {
  DatasetRow,
  DatasetValue,
  ReadDatasetRowsOptions,
  ReadJsonlRowsOptions,
  ReadParquetRowsOptions,
} from './dataset-rows.js';
export { readDatasetRows, readJsonlRows, readParquetRows } from './dataset-rows.js';
export type { DerivedFileStore } from './derived-files.js';
export { memoryDerivedStore, opfsDerivedStore } from './derived-files.js';
export type { DuplicateCheckpoints } from './duplicates.js';
export { findDuplicateCheckpoints } from './duplicates.js';
export {
  CacheNotWritableError,
  CheckpointHubError,
  CorruptCheckpointError,
  DiskFullError,
  EntryNotFoundError,
  ForbiddenPickleGlobalError,
  HubAccessError,
  HubNetworkError,
  HubResponseError,
  HubTimeoutError,
  IncompleteListingError,
  IncompleteSafetensorsError,
  IntegrityError,
  InvalidDatasetFileError,
  InvalidModelRefError,
  LocalFolderNotFoundError,
  NotCachedError,
  PartlyCachedError,
  RepoNotFoundError,
  RevisionNotFoundError,
  SafetensorsWriteError,
  TensorMismatchError,
  UnsafeDatasetIntegerError,
  UnsafeHubValueError,
  UnsupportedDtypeError,
  UnsupportedTorchCheckpointError,
} from './errors.js';
export type {
  DownloadTarget,
  FileProgress,
  HubClientOptions,
  ListFilesOptions,
  RepoFile,
  RepoRef,
} from './hub-client.js';
export { HubClient } from './hub-client.js';
export type { ListParquetFilesOptions, ParquetSplit } from './parquet-files.js';
export { listParquetFiles, ParquetSplitNotFoundError, pickParquetFiles } from './parquet-files.js';
export type { ModelRef, PythiaModel } from './pythia.js';
export {
  PYTHIA_MODELS,
  PYTHIA_ORG,
  parseModelRef,
  pythiaCheckpointSteps,
  pythiaCheckpoints,
  pythiaModel,
} from './pythia.js';
export type { MemorySink, RandomAccessSink } from './random-access-sink.js';
export { memorySink } from './random-access-sink.js';
export type { CheckpointStore, OpenFileOptions } from './remote-store.js';
export { RemoteStore } from './remote-store.js';
export type { RepoOptions, RepoType } from './repo-type.js';
export { PARQUET_REVISION } from './repo-type.js';
export type { SafetensorsHeader } from './safetensors.js';
export { readSafetensorsHeader, readTensorBytes } from './safetensors.js';
export type {
  RowArrays,
  TensorDeclaration,
  TensorRows,
  WritableDtype,
} from './safetensors-writer.js';
export { SafetensorsWriter } from './safetensors-writer.js';
export type { TensorData } from './tensor-data.js';
export { tensorData } from './tensor-data.js';
export type { TensorDtype, TensorEntry } from './tensor-entry.js';
export { DTYPE_BYTES, isUnusedBuffer } from './tensor-entry.js';
export type { TorchCheckpoint } from './torch-bin.js';
export { readTorchCheckpoint } from './torch-bin.js';
export type { PickleValue, TorchStorageType } from './unpickle.js';
export {
  PickleDict,
  PickleGlobal,
  PickleList,
  PickleTuple,
  TorchStorage,
  TorchTensor,
  unpickle,
} from './unpickle.js';
export type { ZipDirectory, ZipEntry } from './zip.js';
export { readZipDirectory, zipEntryDataOffset } from './zip.js';
