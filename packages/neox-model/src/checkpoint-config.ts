import type { Checkpoint } from '@pythiajs/checkpoint-hub';
import { type NeoXConfig, parseNeoXConfig } from './config.js';
import { ConfigMismatchError } from './errors.js';

type TensorLayout = Pick<Checkpoint, 'repo' | 'revision' | 'tensors'>;

const LAYER = /^gpt_neox\.layers\.(\d+)\./;

/** `the checkpoint has layers 0–1 (2 layers)`, for a message. */
function describeLayers(indices: ReadonlySet<number>, last: number): string {
  if (indices.size === 0) return 'the checkpoint has no gpt_neox.layers.N tensors at all';
  const count = `${indices.size} layer${indices.size === 1 ? '' : 's'}`;
  if (indices.size === last + 1) {
    return last === 0
      ? `the checkpoint has only layer 0 (${count})`
      : `the checkpoint has layers 0–${last} (${count})`;
  }
  return `the checkpoint has ${count}, numbered up to ${last}`;
}

/**
 * Cross-checks a parsed config against the checkpoint's tensor layout — the number of
 * `gpt_neox.layers.N.` blocks, `embed_in`'s `[vocab_size, hidden_size]` and the first MLP's
 * `intermediate_size` — from the names and shapes alone: no weight is read, nothing is
 * allocated. This runs before the per-tensor table of {@link expectedShapes} is built, so a
 * config that names more layers than the weights hold fails at once with the field named, rather
 * than as a missing tensor (or, for an absurd count, after building a huge table).
 *
 * Tensors it cannot judge (absent, or of another rank) are left to the per-tensor shape check,
 * which reports them as `TensorMismatchError`.
 *
 * @throws {ConfigMismatchError} naming the field, its value in `config.json`, and what the
 *   checkpoint holds.
 */
export function checkConfigAgainstTensors(config: NeoXConfig, checkpoint: TensorLayout): void {
  const source = `${checkpoint.repo}@${checkpoint.revision}`;
  const mismatch = (field: string, value: number, found: string) =>
    new ConfigMismatchError(source, field, value, found);

  const layers = new Set<number>();
  let last = -1;
  for (const name of checkpoint.tensors.keys()) {
    const match = LAYER.exec(name);
    if (!match) continue;
    const index = Number(match[1]);
    layers.add(index);
    if (index > last) last = index;
  }
  if (config.numLayers !== last + 1) {
    throw mismatch('num_hidden_layers', config.numLayers, describeLayers(layers, last));
  }

  const embed = checkpoint.tensors.get('gpt_neox.embed_in.weight')?.shape;
  if (embed?.length === 2) {
    const found = `the checkpoint's gpt_neox.embed_in.weight is [${embed.join(', ')}] ([vocab_size, hidden_size])`;
    if (embed[0] !== config.vocabSize) throw mismatch('vocab_size', config.vocabSize, found);
    if (embed[1] !== config.hiddenSize) throw mismatch('hidden_size', config.hiddenSize, found);
  }

  const up = checkpoint.tensors.get('gpt_neox.layers.0.mlp.dense_h_to_4h.weight')?.shape;
  if (up?.length === 2 && up[0] !== config.intermediateSize) {
    throw mismatch(
      'intermediate_size',
      config.intermediateSize,
      `the checkpoint's gpt_neox.layers.0.mlp.dense_h_to_4h.weight is [${up.join(', ')}] ([intermediate_size, hidden_size])`,
    );
  }
}

/**
 * A checkpoint's `config.json`, parsed (errors name `repo@revision`) and cross-checked against
 * its tensors with {@link checkConfigAgainstTensors}: everything that can be refused before a
 * device is opened or a buffer allocated. {@link NeoXModel.fromCheckpoint} starts with it.
 *
 * @example
 * ```ts
 * const checkpoint = await openCheckpoint(repo, revision, store);
 * const config = checkpointConfig(checkpoint); // throws before any GPU work
 * if (prompt.length > config.maxPositions) throw new Error('prompt too long');
 * ```
 * @throws {InvalidConfigError} a missing, wrong or out-of-bounds field.
 * @throws {ConfigMismatchError} the config and the tensors disagree.
 */
export function checkpointConfig(
  checkpoint: TensorLayout & Pick<Checkpoint, 'config'>,
): NeoXConfig {
  const config = parseNeoXConfig(checkpoint.config as object, {
    source: `${checkpoint.repo}@${checkpoint.revision}`,
  });
  checkConfigAgainstTensors(config, checkpoint);
  return config;
}
