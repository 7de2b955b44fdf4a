// The quantized matrices of a checkpoint kept in a file, so that loading the same revision in the
// same format again uploads them as they are, skipping the read of the f16/f32 matrices and the
// quantization (most of a quantized load's time).
//
// The file is a safetensors file in a `DerivedFileStore`, under
// `quantized/v1/<repo>/<commit>/<format>.safetensors`: keyed by the commit, never a branch, so a
// revision that moves gets its own file. For each quantized matrix `<name>` of shape [N, K], two
// tensors: `<name>.qvalues` (I32 [N, K/32 · words per block], the packed values as
// `QuantizedTensor` stores them) and `<name>.qscales` (F16 [N, K/32], one scale per block). Its
// `__metadata__` names the layout, format, repo and commit; a file whose header does not match
// what this load expects (another layout, a truncated or foreign file) is deleted and rewritten.
import {
  type ByteSource,
  type Checkpoint,
  type DerivedFileStore,
  isCommitId,
  opfsDerivedStore,
  readSafetensorsHeader,
  SafetensorsWriter,
  type TensorEntry,
  tensorData,
} from '@pythiajs/checkpoint-hub';
import {
  type Device,
  QUANT_BLOCK,
  QUANT_BLOCK_WORDS,
  type QuantFormat,
  type QuantizedRows,
} from '@pythiajs/tensor-core';
import type { NeoXConfig } from './config.js';
import { ModelSourceError } from './errors.js';
import { nodeHub } from './model-source.js';
import {
  type NeoXWeights,
  quantizedMatrices,
  type UploadOptions,
  uploadWeights,
} from './weights.js';

/** Changed whenever what the file holds or how it is laid out changes: old files are rewritten. */
const LAYOUT = 'pythiajs-quantized-v1';

/**
 * The key of a checkpoint's quantized matrices in `format`, or `undefined` when the checkpoint has
 * no commit to key them by (a local folder, whose files may change under the same name).
 */
export function quantizedCacheKey(checkpoint: Checkpoint, format: QuantFormat): string | undefined {
  if (!isCommitId(checkpoint.commit)) return undefined;
  return `quantized/v1/${checkpoint.repo}/${checkpoint.commit}/${format}.safetensors`;
}

/** A cache file that passed its header check failed to read through (truncated since, an I/O error). */
class QuantizedCacheReadError extends Error {
  constructor(key: string, cause: unknown) {
    super(
      `reading the quantized cache file ${key} failed: ${cause instanceof Error ? cause.message : cause}`,
    );
  }
}

const tensorNames = (name: string) => ({ values: `${name}.qvalues`, scales: `${name}.qscales` });

/** The stored shapes of a matrix [N, K]: values [N, K/32 · words], scales [N, K/32]. */
function storedShapes([n, k]: readonly [number, number], format: QuantFormat) {
  const blocks = k / QUANT_BLOCK;
  return { values: [n, blocks * QUANT_BLOCK_WORDS[format]], scales: [n, blocks] };
}

/** What a cache file must say of itself to be used. */
function expectedMetadata(checkpoint: Checkpoint, format: QuantFormat): Record<string, string> {
  return { layout: LAYOUT, format, repo: checkpoint.repo, commit: checkpoint.commit };
}

/** A cache file being read: the quantized rows of its matrices. */
export interface QuantizedCacheReader {
  /** Rows `[row, row + rows)` of matrix `name`, as `QuantizedTensor.writeQuantizedRows` takes them. */
  readRows(name: string, row: number, rows: number): Promise<QuantizedRows>;
  close(): Promise<void>;
}

/**
 * Opens the cache file under `key` when it holds every matrix of `matrices` (name → [N, K]) for
 * this checkpoint and format. A file that does not (unreadable, another layout or checkpoint, a
 * tensor missing or of another shape) is deleted: the load then writes a new one.
 */
export async function openQuantizedCache(
  store: DerivedFileStore,
  key: string,
  checkpoint: Checkpoint,
  format: QuantFormat,
  matrices: ReadonlyMap<string, readonly [number, number]>,
): Promise<QuantizedCacheReader | undefined> {
  const source = await store.open(key);
  if (!source) return undefined;
  const entries = await matchingEntries(source, key, checkpoint, format, matrices);
  if (!entries) {
    await source.close?.();
    await store.delete(key);
    return undefined;
  }
  const range = async (entry: TensorEntry, rowBytes: number, row: number, rows: number) =>
    source.read(entry.offset + row * rowBytes, rows * rowBytes);
  return {
    readRows: async (name, row, rows) => {
      const { values, scales } = tensorNames(name);
      const v = entries.get(values)!;
      const s = entries.get(scales)!;
      try {
        const valueBytes = await range(v, 4 * v.shape[1]!, row, rows);
        const scaleBytes = await range(s, 2 * s.shape[1]!, row, rows);
        // Viewed in place when aligned, else copied once (tensorData); I32 read as u32 words.
        const words = tensorData('I32', valueBytes);
        return {
          values: new Uint32Array(words.buffer, words.byteOffset, words.length),
          scales: tensorData('F16', scaleBytes) as Uint16Array,
        };
      } catch (error) {
        throw new QuantizedCacheReadError(key, error);
      }
    },
    close: async () => {
      await source.close?.();
    },
  };
}

/** The file's tensors by name when its header is what this load expects, else `undefined`. */
async function matchingEntries(
  source: ByteSource,
  key: string,
  checkpoint: Checkpoint,
  format: QuantFormat,
  matrices: ReadonlyMap<string, readonly [number, number]>,
): Promise<Map<string, TensorEntry> | undefined> {
  let header: Awaited<ReturnType<typeof readSafetensorsHeader>>;
  try {
    header = await readSafetensorsHeader(source, key);
  } catch {
    return undefined;
  }
  for (const [field, value] of Object.entries(expectedMetadata(checkpoint, format))) {
    if (header.metadata[field] !== value) return undefined;
  }
  const entries = new Map(header.tensors.map((t) => [t.name, t]));
  for (const [name, shape] of matrices) {
    const stored = storedShapes(shape, format);
    const names = tensorNames(name);
    const values = entries.get(names.values);
    const scales = entries.get(names.scales);
    if (values?.dtype !== 'I32' || values.shape.join() !== stored.values.join()) return undefined;
    if (scales?.dtype !== 'F16' || scales.shape.join() !== stored.scales.join()) return undefined;
  }
  return entries;
}

/** A cache file being written as the matrices are quantized. */
export interface QuantizedCacheWriter {
  /** Keeps rows `[row, …)` of matrix `name` as quantized (resolves when written). */
  writeRows(name: string, row: number, rows: QuantizedRows): Promise<void>;
  /** Every row of every matrix was written: the file becomes visible. */
  finish(): Promise<void>;
  /** Drops what was written. */
  abort(): Promise<void>;
}

/** Starts the cache file under `key` for `matrices` (name → [N, K]) of this checkpoint. */
export async function createQuantizedCache(
  store: DerivedFileStore,
  key: string,
  checkpoint: Checkpoint,
  format: QuantFormat,
  matrices: ReadonlyMap<string, readonly [number, number]>,
): Promise<QuantizedCacheWriter> {
  const tensors = [...matrices].flatMap(([name, shape]) => {
    const stored = storedShapes(shape, format);
    const names = tensorNames(name);
    return [
      { name: names.values, dtype: 'I32' as const, shape: stored.values },
      { name: names.scales, dtype: 'F16' as const, shape: stored.scales },
    ];
  });
  const writer = await SafetensorsWriter.create(await store.create(key), tensors, {
    metadata: expectedMetadata(checkpoint, format),
  });
  return {
    writeRows: async (name, row, rows) => {
      const names = tensorNames(name);
      const { values, scales } = rows;
      await Promise.all([
        writer.writeRows(
          names.values,
          row,
          new Int32Array(values.buffer, values.byteOffset, values.length),
        ),
        writer.writeRows(names.scales, row, scales),
      ]);
    },
    finish: () => writer.finish(),
    abort: () => writer.abort(),
  };
}

/** What loading did with the cache of quantized matrices (a `LoadProgress` of `NeoXModel.load`). */
export interface QuantizedCacheEvent {
  phase: 'quantized-cache';
  /**
   * `read`: the matrices came from the cache file, nothing was quantized. `written`: they were
   * quantized and kept. `write-failed`: they were quantized, but keeping them failed (`message`
   * says why: a full disk, a quota); the model loaded all the same and nothing half-written is
   * left. `read-failed`: the cache file could not be read through (`message`); it was deleted and
   * the matrices quantized from the checkpoint again.
   */
  action: 'read' | 'written' | 'write-failed' | 'read-failed';
  /** The file's key in the store. */
  key: string;
  message?: string;
}

/**
 * The store `quantizedCache: true` means: files under `~/.cache/pythiajs` (`nodeDerivedStore` of
 * checkpoint-hub) in Node, the Origin Private File System in browsers.
 *
 * @throws {ModelSourceError} a browser without the Origin Private File System.
 */
export async function defaultQuantizedStore(
  environment: 'node' | 'browser',
): Promise<DerivedFileStore> {
  if (environment === 'node') return (await nodeHub()).nodeDerivedStore();
  const storage = (globalThis.navigator as { storage?: { getDirectory?: unknown } } | undefined)
    ?.storage;
  if (typeof storage?.getDirectory !== 'function') {
    throw new ModelSourceError(
      'quantizedCache: true keeps quantized weights in the Origin Private File System, which this browser does not have; pass a DerivedFileStore, or leave quantizedCache off',
    );
  }
  return opfsDerivedStore();
}

/**
 * {@link uploadWeights} of a quantized dtype through the cache in `store`: the matrices come from
 * the cache file when it holds them, else they are quantized from the checkpoint and kept in a new
 * one. A checkpoint without a commit (a local folder) is loaded without the cache, as is the
 * writing of one that allows non-finite weights (the file would hand them to a later load that
 * checks for them). Failing to keep the file never fails the load.
 */
export async function uploadThroughQuantizedCache(
  checkpoint: Checkpoint,
  config: NeoXConfig,
  device: Device,
  options: UploadOptions & { dtype: QuantFormat },
  store: DerivedFileStore,
  report: (event: QuantizedCacheEvent) => void,
): Promise<NeoXWeights> {
  const format = options.dtype;
  const key = quantizedCacheKey(checkpoint, format);
  if (!key) return uploadWeights(checkpoint, config, device, options);
  const matrices = quantizedMatrices(config);
  const read = await openQuantizedCache(store, key, checkpoint, format, matrices);
  if (read) {
    try {
      const weights = await uploadWeights(checkpoint, config, device, {
        ...options,
        quantizedCache: { read },
      });
      report({ phase: 'quantized-cache', action: 'read', key });
      return weights;
    } catch (error) {
      // The checkpoint's own tensors are read in this pass too: only a failing cache read is the
      // cache's to answer for.
      if (!(error instanceof QuantizedCacheReadError)) throw error;
      await store.delete(key);
      report({ phase: 'quantized-cache', action: 'read-failed', key, message: error.message });
    } finally {
      await read.close();
    }
  }
  if (options.allowNonFinite) return uploadWeights(checkpoint, config, device, options);
  let writer: QuantizedCacheWriter;
  try {
    writer = await createQuantizedCache(store, key, checkpoint, format, matrices);
  } catch (error) {
    report({ phase: 'quantized-cache', action: 'write-failed', key, message: messageOf(error) });
    return uploadWeights(checkpoint, config, device, options);
  }
  // A failed write stops the keeping, not the load.
  let failure: unknown;
  const keep: QuantizedCacheWriter = {
    writeRows: async (name, row, rows) => {
      if (failure === undefined)
        await writer.writeRows(name, row, rows).catch((e) => (failure = e));
    },
    finish: () => writer.finish(),
    abort: () => writer.abort(),
  };
  let weights: NeoXWeights;
  try {
    weights = await uploadWeights(checkpoint, config, device, {
      ...options,
      quantizedCache: { write: keep },
    });
  } catch (error) {
    await writer.abort().catch(() => undefined);
    throw error;
  }
  try {
    if (failure !== undefined) throw failure;
    await writer.finish();
    report({ phase: 'quantized-cache', action: 'written', key });
  } catch (error) {
    await writer.abort().catch(() => undefined);
    report({ phase: 'quantized-cache', action: 'write-failed', key, message: messageOf(error) });
  }
  return weights;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
