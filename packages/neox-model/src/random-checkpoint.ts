import { type Checkpoint, type TensorEntry, tensorRange } from '@pythiajs/checkpoint-hub';
import { f32ArrayToF16Bits } from '@pythiajs/tensor-core';
import type { NeoXConfig } from './config.js';
import { expectedShapes } from './weights.js';

/**
 * A checkpoint of seeded random weights at a config's real shapes, generated as it is read (no
 * file; only the tensor read last is held, for the next piece of it): for benchmarks and
 * full-size tests of every Pythia size.
 * Matrices are N(0, 0.02)-like, LayerNorm weights 1, biases and LayerNorm biases 0.
 */
export function randomCheckpoint(
  config: NeoXConfig,
  options: { seed?: number; dtype?: 'F16' | 'F32' } = {},
): Checkpoint {
  const dtype = options.dtype ?? 'F16';
  const bytes = dtype === 'F16' ? 2 : 4;
  const tensors = new Map<string, TensorEntry & { file: string }>();
  let offset = 0;
  for (const [name, shape] of expectedShapes(config)) {
    const byteLength = shape.reduce((a, b) => a * b, 1) * bytes;
    tensors.set(name, { name, dtype, shape, offset, byteLength, file: 'random' });
    offset += byteLength;
  }
  let last: { name: string; bytes: Uint8Array } | undefined;
  const hfConfig = {
    model_type: 'gpt_neox',
    hidden_size: config.hiddenSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    intermediate_size: config.intermediateSize,
    vocab_size: config.vocabSize,
    max_position_embeddings: config.maxPositions,
    rotary_pct: config.rotaryPct,
    rotary_emb_base: config.rotaryBase,
    layer_norm_eps: config.layerNormEps,
    use_parallel_residual: config.parallelResidual,
    hidden_act: config.activation,
    tie_word_embeddings: config.tieWordEmbeddings,
  };
  return {
    repo: 'random',
    revision: `seed-${options.seed ?? 0}`,
    commit: 'random',
    format: 'safetensors',
    config: hfConfig,
    tensors,
    skipped: [],
    expect: (name, shape) => {
      const entry = tensors.get(name)!;
      if (entry.shape.join() !== shape.join())
        throw new Error(`random checkpoint: ${name} is not [${shape}]`);
      return entry;
    },
    read: async (name, into, range) => {
      const entry = tensors.get(name)!;
      // A loader reads a matrix a piece at a time: the tensor is generated once for its pieces.
      if (last?.name !== name) {
        const values = new Float32Array(entry.byteLength / bytes);
        if (name.endsWith('layernorm.weight') || name.endsWith('final_layer_norm.weight'))
          values.fill(1);
        else if (entry.shape.length === 2)
          fillNormal(values, 0.02, hash(name) ^ (options.seed ?? 0));
        const out = dtype === 'F16' ? f32ArrayToF16Bits(values) : values;
        last = { name, bytes: new Uint8Array(out.buffer, out.byteOffset, out.byteLength) };
      }
      const { offset, length } = tensorRange(name, entry.byteLength, range);
      const view = last.bytes.subarray(offset, offset + length);
      // A copy: the caller may change what it is given.
      if (!into) return view.slice();
      into.set(view);
      return into.subarray(0, view.length);
    },
    close: async () => {},
  };
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Approximately normal values (sum of 4 uniforms, rescaled) from a xorshift generator. */
function fillNormal(values: Float32Array, std: number, seed: number): void {
  let s = seed || 1;
  const scale = std * Math.sqrt(3); // the sum of 4 U(-0.5, 0.5) has variance 1/3
  for (let i = 0; i < values.length; i++) {
    let sum = 0;
    for (let k = 0; k < 4; k++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      sum += (s >>> 0) / 4294967296 - 0.5;
    }
    values[i] = sum * scale;
  }
}
