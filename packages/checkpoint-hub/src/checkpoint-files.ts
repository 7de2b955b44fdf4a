import { CorruptCheckpointError } from './errors.js';

/** Which files hold a checkpoint's weights. */
export interface WeightFiles {
  format: 'safetensors' | 'bin';
  /** The weight files, in shard order. */
  files: string[];
  /** The `*.index.json` mapping tensor names to shards, when sharded. */
  index?: string;
}

/**
 * Picks the weight files of a revision from its file listing, in the order Hugging Face
 * `transformers` prefers: `model.safetensors`, its sharded index, `pytorch_model.bin`, its sharded
 * index. Most Pythia step branches carry only `.bin` files. Returns `undefined` when the listing
 * has no weights; shard names come from the index (see {@link parseShardIndex}).
 */
export function pickWeightFiles(paths: readonly string[]): WeightFiles | undefined {
  const has = new Set(paths);
  if (has.has('model.safetensors')) return { format: 'safetensors', files: ['model.safetensors'] };
  if (has.has('model.safetensors.index.json'))
    return { format: 'safetensors', files: [], index: 'model.safetensors.index.json' };
  if (has.has('pytorch_model.bin')) return { format: 'bin', files: ['pytorch_model.bin'] };
  if (has.has('pytorch_model.bin.index.json'))
    return { format: 'bin', files: [], index: 'pytorch_model.bin.index.json' };
  return undefined;
}

/** A sharded checkpoint's index: which shard holds each tensor. */
export interface ShardIndex {
  /** Shard file names in order of first appearance. */
  shards: string[];
  /** Tensor name → shard file. */
  weightMap: Map<string, string>;
  /** `metadata.total_size`, when given: the bytes of all tensors. */
  totalSize?: number;
}

/** Parses `model.safetensors.index.json` or `pytorch_model.bin.index.json`. */
export function parseShardIndex(text: string, file: string): ShardIndex {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CorruptCheckpointError(file, `not valid JSON (${(error as Error).message})`);
  }
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null)
    throw new CorruptCheckpointError(file, 'it has no weight_map');
  const map = new Map<string, string>();
  const shards: string[] = [];
  for (const [name, shard] of Object.entries(weightMap)) {
    if (
      typeof shard !== 'string' ||
      shard === '' ||
      shard.includes('..') ||
      shard.startsWith('/')
    ) {
      throw new CorruptCheckpointError(
        file,
        `weight_map[${JSON.stringify(name)}] is not a file name in the repo`,
      );
    }
    map.set(name, shard);
    if (!shards.includes(shard)) shards.push(shard);
  }
  const total = (json as { metadata?: { total_size?: unknown } }).metadata?.total_size;
  return { shards, weightMap: map, ...(typeof total === 'number' ? { totalSize: total } : {}) };
}
