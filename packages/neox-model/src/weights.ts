import type { Checkpoint, TensorEntry } from '@pythiajs/checkpoint-hub';
import { tensorData } from '@pythiajs/checkpoint-hub';
import {
  type Device,
  f16BitsToF32Array,
  f32ArrayToF16Bits,
  type Tensor,
} from '@pythiajs/tensor-core';
import type { NeoXConfig } from './config.js';
import { UnsupportedWeightsError } from './errors.js';
import { assertFinite } from './finite-weights.js';

/** How the weight matrices are stored on the GPU. */
export type WeightDtype = 'f16' | 'f32';

/** One GPT-NeoX block's parameters. Matrices are `[out, in]` as in PyTorch's `nn.Linear`. */
export interface LayerWeights {
  ln1Weight: Tensor<'f32'>;
  ln1Bias: Tensor<'f32'>;
  ln2Weight: Tensor<'f32'>;
  ln2Bias: Tensor<'f32'>;
  /** `[heads·3·headDim, hidden]`: q, k, v interleaved per head. */
  qkvWeight: Tensor<'f16' | 'f32'>;
  qkvBias: Tensor<'f32'>;
  denseWeight: Tensor<'f16' | 'f32'>;
  denseBias: Tensor<'f32'>;
  upWeight: Tensor<'f16' | 'f32'>;
  upBias: Tensor<'f32'>;
  downWeight: Tensor<'f16' | 'f32'>;
  downBias: Tensor<'f32'>;
}

/** All of a model's parameters on the GPU. */
export interface NeoXWeights {
  embedIn: Tensor<'f16' | 'f32'>;
  layers: LayerWeights[];
  finalNormWeight: Tensor<'f32'>;
  finalNormBias: Tensor<'f32'>;
  /** The unembedding `[vocab, hidden]` (the same tensor as `embedIn` when tied). */
  embedOut: Tensor<'f16' | 'f32'>;
  /** Bytes of all parameters on the GPU. */
  bytes: number;
}

/** Hugging Face's parameter names and the shapes `config.json` implies for them. */
export function expectedShapes(config: NeoXConfig): Map<string, number[]> {
  const { hiddenSize: h, intermediateSize: i, vocabSize: v, numLayers } = config;
  const shapes = new Map<string, number[]>([['gpt_neox.embed_in.weight', [v, h]]]);
  for (let l = 0; l < numLayers; l++) {
    const p = `gpt_neox.layers.${l}`;
    for (const norm of ['input_layernorm', 'post_attention_layernorm']) {
      shapes.set(`${p}.${norm}.weight`, [h]);
      shapes.set(`${p}.${norm}.bias`, [h]);
    }
    shapes.set(`${p}.attention.query_key_value.weight`, [3 * h, h]);
    shapes.set(`${p}.attention.query_key_value.bias`, [3 * h]);
    shapes.set(`${p}.attention.dense.weight`, [h, h]);
    shapes.set(`${p}.attention.dense.bias`, [h]);
    shapes.set(`${p}.mlp.dense_h_to_4h.weight`, [i, h]);
    shapes.set(`${p}.mlp.dense_h_to_4h.bias`, [i]);
    shapes.set(`${p}.mlp.dense_4h_to_h.weight`, [h, i]);
    shapes.set(`${p}.mlp.dense_4h_to_h.bias`, [h]);
  }
  shapes.set('gpt_neox.final_layer_norm.weight', [h]);
  shapes.set('gpt_neox.final_layer_norm.bias', [h]);
  if (!config.tieWordEmbeddings) shapes.set('embed_out.weight', [v, h]);
  return shapes;
}

/** bf16 bits → f32 values: bf16 is the top half of an f32, so this is exact. */
function bf16ToF32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i]! << 16;
  return new Float32Array(out.buffer);
}

/** A checkpoint tensor's values in the wanted GPU dtype (f16 as bit patterns). */
function convert(
  entry: TensorEntry,
  bytes: Uint8Array,
  dtype: WeightDtype,
): Float32Array | Uint16Array {
  const data = tensorData(entry.dtype, bytes);
  switch (entry.dtype) {
    case 'F16':
      return dtype === 'f16' ? (data as Uint16Array) : f16BitsToF32Array(data as Uint16Array);
    case 'F32':
      return dtype === 'f32' ? (data as Float32Array) : f32ArrayToF16Bits(data as Float32Array);
    case 'BF16': {
      const wide = bf16ToF32(data as Uint16Array);
      return dtype === 'f32' ? wide : f32ArrayToF16Bits(wide);
    }
    default:
      throw new UnsupportedWeightsError(
        `tensor ${entry.name} is ${entry.dtype}; weights must be F32, F16 or BF16`,
      );
  }
}

/** Options of {@link uploadWeights}. */
export interface UploadOptions {
  /** Weight matrices on the GPU (LayerNorm parameters and biases are always f32). */
  dtype: WeightDtype;
  /** Upload NaN and ±Infinity (and f16 overflows) instead of refusing them. */
  allowNonFinite?: boolean;
  onTensor?: (name: string, index: number, count: number) => void;
}

/**
 * Uploads a checkpoint's parameters: matrices in `dtype` (f16 by default: 2 bytes per weight on
 * every adapter), LayerNorm parameters and biases in f32 (they are tiny, and f32 keeps an f32
 * checkpoint's values exact). Each tensor is checked against the shape `config.json` implies
 * before any byte is read, read into one reused staging buffer, converted, scanned for
 * non-finite values (unless `allowNonFinite`), and uploaded.
 *
 * @throws {TensorMismatchError} a tensor is missing or has another shape.
 * @throws {NonFiniteWeightsError} a tensor holds NaN or ±Infinity, or a value f16 cannot hold.
 */
export async function uploadWeights(
  checkpoint: Checkpoint,
  config: NeoXConfig,
  device: Device,
  options: UploadOptions,
): Promise<NeoXWeights> {
  const { dtype, onTensor } = options;
  const source = `${checkpoint.repo}@${checkpoint.revision}`;
  const shapes = expectedShapes(config);
  const entries = new Map<string, TensorEntry>();
  for (const [name, shape] of shapes) entries.set(name, checkpoint.expect(name, shape));
  const staging = new Uint8Array(Math.max(...[...entries.values()].map((e) => e.byteLength)));
  const uploaded = new Map<string, Tensor<'f16' | 'f32'>>();
  let bytes = 0;
  let index = 0;
  try {
    for (const [name, entry] of entries) {
      const matrix = entry.shape.length === 2;
      const read = await checkpoint.read(name, staging);
      const values = convert(entry, read, matrix ? dtype : 'f32');
      // Before the upload: a NaN weight would otherwise surface only as NaN logits, far from
      // the tensor that caused them.
      if (!options.allowNonFinite) assertFinite(entry, source, read, values);
      const tensor = device.empty(entry.shape, values instanceof Uint16Array ? 'f16' : 'f32');
      // Awaited before the staging buffer is reused for the next tensor.
      await tensor.write(0, values as never);
      uploaded.set(name, tensor);
      bytes += tensor.byteLength;
      onTensor?.(name, ++index, entries.size);
    }
  } catch (error) {
    for (const tensor of uploaded.values()) tensor.dispose();
    throw error;
  }
  const get = <T extends Tensor<'f16' | 'f32'>>(name: string) => uploaded.get(name)! as T;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const p = `gpt_neox.layers.${l}`;
    layers.push({
      ln1Weight: get(`${p}.input_layernorm.weight`),
      ln1Bias: get(`${p}.input_layernorm.bias`),
      ln2Weight: get(`${p}.post_attention_layernorm.weight`),
      ln2Bias: get(`${p}.post_attention_layernorm.bias`),
      qkvWeight: get(`${p}.attention.query_key_value.weight`),
      qkvBias: get(`${p}.attention.query_key_value.bias`),
      denseWeight: get(`${p}.attention.dense.weight`),
      denseBias: get(`${p}.attention.dense.bias`),
      upWeight: get(`${p}.mlp.dense_h_to_4h.weight`),
      upBias: get(`${p}.mlp.dense_h_to_4h.bias`),
      downWeight: get(`${p}.mlp.dense_4h_to_h.weight`),
      downBias: get(`${p}.mlp.dense_4h_to_h.bias`),
    });
  }
  const embedIn = get('gpt_neox.embed_in.weight');
  return {
    embedIn,
    layers,
    finalNormWeight: get('gpt_neox.final_layer_norm.weight'),
    finalNormBias: get('gpt_neox.final_layer_norm.bias'),
    embedOut: config.tieWordEmbeddings ? embedIn : get('embed_out.weight'),
    bytes,
  };
}

/** Frees every parameter tensor. */
export function disposeWeights(weights: NeoXWeights): void {
  const all = new Set<Tensor>([
    weights.embedIn,
    weights.embedOut,
    weights.finalNormWeight,
    weights.finalNormBias,
  ]);
  for (const layer of weights.layers) for (const t of Object.values(layer)) all.add(t);
  for (const t of all) t.dispose();
}
