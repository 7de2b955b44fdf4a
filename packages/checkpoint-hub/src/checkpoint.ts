import type { ByteSource } from './byte-source.js';
import { parseShardIndex, pickWeightFiles } from './checkpoint-files.js';
import { parseConfigJson } from './config-json.js';
import { EntryNotFoundError, PartlyCachedError, TensorMismatchError } from './errors.js';
import type { FileProgress } from './hub-client.js';
import type { CheckpointStore } from './remote-store.js';
import { readSafetensorsHeader } from './safetensors.js';
import type { TensorEntry } from './tensor-entry.js';
import { isUnusedBuffer } from './tensor-entry.js';
import { readTorchCheckpoint } from './torch-bin.js';

/** Progress of loading a checkpoint: the file at hand and the whole, in bytes. */
export interface CheckpointProgress {
  file: string;
  fileLoaded: number;
  fileTotal: number;
  loaded: number;
  /** Known from the file listing before the first byte is transferred. */
  total: number;
}

/** A checkpoint ready to read: its config and where each of its tensors lies. */
export interface Checkpoint {
  repo: string;
  revision: string;
  commit: string;
  format: 'safetensors' | 'bin';
  /**
   * `config.json`, parsed: always a JSON object (anything else is refused with a
   * `CorruptCheckpointError` naming the file, repo and revision).
   */
  config: unknown;
  /** The tensors the model uses, by state-dict name. */
  tensors: ReadonlyMap<string, TensorEntry & { file: string }>;
  /** Legacy buffers that were left out (never read). */
  skipped: string[];
  /**
   * The bytes of a tensor; with `into`, written to its start (see {@link ByteSource.read}) so one
   * staging buffer can carry every tensor to the GPU. With `range`, only `length` bytes from
   * `offset` within the tensor, read where they lie: a loader streams a large tensor a piece at a
   * time, holding one piece.
   *
   * @throws {RangeError} a range that is not inside the tensor.
   */
  read(name: string, into?: Uint8Array, range?: TensorRange): Promise<Uint8Array>;
  /**
   * The entry of a tensor the model needs, checked against the shape `config.json` implies.
   * @throws {TensorMismatchError} missing, or another shape.
   */
  expect(name: string, shape: readonly number[]): TensorEntry;
  /** Closes the files opened (Node file handles). */
  close(): Promise<void>;
}

/** Bytes `[offset, offset + length)` of a tensor's data (see {@link Checkpoint.read}). */
export interface TensorRange {
  offset: number;
  length: number;
}

/** The range of a tensor of `byteLength` bytes that `range` asks for; throws when it is not one. */
export function tensorRange(
  name: string,
  byteLength: number,
  range: TensorRange | undefined,
): TensorRange {
  if (range === undefined) return { offset: 0, length: byteLength };
  const { offset, length } = range;
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > byteLength
  ) {
    throw new RangeError(
      `cannot read bytes [${offset}, ${offset + length}) of ${name}: it holds ${byteLength} bytes; give a whole-number range inside it`,
    );
  }
  return range;
}

/** Options of {@link openCheckpoint}. */
export interface OpenCheckpointOptions {
  onProgress?: (progress: CheckpointProgress) => void;
  signal?: AbortSignal;
}

async function readText(source: ByteSource): Promise<string> {
  return new TextDecoder().decode(await source.read(0, source.size));
}

/**
 * Opens a GPT-NeoX checkpoint of any revision in whichever format the revision carries —
 * `model.safetensors`, sharded safetensors, `pytorch_model.bin`, sharded `.bin` — reading its
 * config and tensor layout (not yet the weights). Legacy buffers are skipped.
 *
 * @example
 * ```ts
 * import { NodeHubCache } from '@pythiajs/checkpoint-hub/node';
 * const checkpoint = await openCheckpoint('EleutherAI/pythia-70m-deduped', 'step3000', new NodeHubCache(), {
 *   onProgress: (p) => console.log(`${p.loaded} / ${p.total}`),
 * });
 * const qkv = await checkpoint.read('gpt_neox.layers.0.attention.query_key_value.weight');
 * ```
 * @throws {EntryNotFoundError} the revision has no weights, no `config.json`, or lacks a shard.
 * @throws {PartlyCachedError} offline, the cache holds only some of those files (a `NotCachedError`).
 * @throws {CorruptCheckpointError} `config.json` or a shard index is not the JSON it should be
 *   (named with the repo and revision), or a weight file's header is damaged.
 */
export async function openCheckpoint(
  repo: string,
  revision: string,
  store: CheckpointStore,
  options: OpenCheckpointOptions = {},
): Promise<Checkpoint> {
  const { signal, onProgress } = options;
  const commit = await store.resolve(repo, revision, signal);
  const listing = await store.files(repo, commit, signal);
  const sizes = new Map(listing.map((f) => [f.path, f.size]));
  // Offline, a store lists only what it holds: a file the checkpoint needs and the listing lacks
  // is one not downloaded yet, not one the revision lacks.
  const missing = (needed: readonly string[]): Error | undefined => {
    const absent = needed.filter((path) => !sizes.has(path));
    if (absent.length === 0) return undefined;
    if (store.offline !== true) return new EntryNotFoundError(repo, revision, absent[0]!);
    const cached = needed.filter((path) => sizes.has(path));
    return new PartlyCachedError(repo, revision, cached, absent);
  };
  const weights = pickWeightFiles(listing.map((f) => f.path));
  if (!weights) throw missing(['model.safetensors or pytorch_model.bin', 'config.json'])!;
  const unlisted = missing(['config.json', ...(weights.index ? [weights.index] : weights.files)]);
  if (unlisted) throw unlisted;

  const loaded = new Map<string, number>();
  let shards = weights.files;
  const planned = ['config.json', ...(weights.index ? [weights.index] : []), ...shards];
  let total = planned.reduce((n, p) => n + (sizes.get(p) ?? 0), 0);
  const progress = (p: FileProgress) => {
    loaded.set(p.path, p.loaded);
    let sum = 0;
    for (const v of loaded.values()) sum += v;
    onProgress?.({ file: p.path, fileLoaded: p.loaded, fileTotal: p.total, loaded: sum, total });
  };
  const opened: Array<ByteSource & { close?(): Promise<void> }> = [];
  const open = async (path: string) => {
    const source = await store.open(repo, commit, path, { onProgress: progress, signal });
    opened.push(source);
    return source;
  };

  // Small JSON files are named with the revision: "config.json" alone does not say which of the
  // cached revisions to delete. (Weight files keep their bare names, as their readers report them.)
  const label = (path: string) => `${path} of ${repo}@${revision}`;
  try {
    const config = parseConfigJson(await readText(await open('config.json')), label('config.json'));
    if (weights.index) {
      const index = parseShardIndex(
        await readText(await open(weights.index)),
        label(weights.index),
      );
      shards = index.shards;
      const unlistedShard = missing(['config.json', weights.index, ...shards]);
      if (unlistedShard) throw unlistedShard;
      for (const shard of shards) total += sizes.get(shard)!;
    }

    const tensors = new Map<string, TensorEntry & { file: string }>();
    const sources = new Map<string, ByteSource>();
    const skipped: string[] = [];
    for (const shard of shards) {
      const source = await open(shard);
      sources.set(shard, source);
      const found =
        weights.format === 'safetensors'
          ? (await readSafetensorsHeader(source, shard)).tensors
          : await readTorchCheckpoint(source, shard).then((c) => {
              skipped.push(...c.skipped);
              return c.tensors;
            });
      for (const entry of found) {
        if (isUnusedBuffer(entry.name)) skipped.push(entry.name);
        else tensors.set(entry.name, { ...entry, file: shard });
      }
    }

    return {
      repo,
      revision,
      commit,
      format: weights.format,
      config,
      tensors,
      skipped,
      read: async (name, into, range) => {
        const entry = tensors.get(name);
        if (!entry) throw new TensorMismatchError(name, [], undefined);
        const { offset, length } = tensorRange(name, entry.byteLength, range);
        return sources.get(entry.file)!.read(entry.offset + offset, length, into);
      },
      expect: (name, shape) => {
        const entry = tensors.get(name);
        if (
          !entry ||
          entry.shape.length !== shape.length ||
          entry.shape.some((d, i) => d !== shape[i])
        ) {
          throw new TensorMismatchError(name, shape, entry?.shape);
        }
        return entry;
      },
      close: async () => {
        await Promise.all(opened.map((s) => s.close?.()));
      },
    };
  } catch (error) {
    await Promise.all(opened.map((s) => s.close?.()));
    throw error;
  }
}
