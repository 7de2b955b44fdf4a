import type { Checkpoint, TensorEntry } from '@pythiajs/checkpoint-hub';
import { tensorData } from '@pythiajs/checkpoint-hub';
import {
  type Device,
  f16BitsToF32Array,
  f32ArrayToF16Bits,
  QUANT_BLOCK,
  type QuantFormat,
  type QuantizedRows,
  QuantizedTensor,
  type Tensor,
} from '@pythiajs/tensor-core';
import type { NeoXConfig } from './config.js';
import { ModelSourceError, UnsupportedWeightsError } from './errors.js';
import { assertFinite } from './finite-weights.js';
import type { QuantizedCacheReader, QuantizedCacheWriter } from './quantized-cache.js';

/**
 * How the weight matrices are stored on the GPU: `f16` or `f32`, or quantized on load, 8 or 4
 * bits per weight in blocks of 32 with a scale each (`q8`, `q4`: tensor-core's
 * `QuantizedTensor`). Quantized models keep `embed_in` in f16 (f32 for an f32 or bf16
 * checkpoint) and every vector in f32; their activations and logits differ from f16's by the
 * quantization error.
 */
export type WeightDtype = 'f16' | 'f32' | QuantFormat;

/** A weight matrix `[out, in]` on the GPU: plain, or quantized (`q8`, `q4`). */
export type MatrixWeight = Tensor<'f16' | 'f32'> | QuantizedTensor;

/** Whether `dtype` quantizes the matrices (`q8`, `q4`). */
export function isQuantized(dtype: WeightDtype): dtype is QuantFormat {
  return dtype === 'q8' || dtype === 'q4';
}

/** One GPT-NeoX block's parameters. Matrices are `[out, in]` as in PyTorch's `nn.Linear`. */
export interface LayerWeights {
  ln1Weight: Tensor<'f32'>;
  ln1Bias: Tensor<'f32'>;
  ln2Weight: Tensor<'f32'>;
  ln2Bias: Tensor<'f32'>;
  /** `[heads·3·headDim, hidden]`: q, k, v interleaved per head. */
  qkvWeight: MatrixWeight;
  qkvBias: Tensor<'f32'>;
  denseWeight: MatrixWeight;
  denseBias: Tensor<'f32'>;
  upWeight: MatrixWeight;
  upBias: Tensor<'f32'>;
  downWeight: MatrixWeight;
  downBias: Tensor<'f32'>;
}

/** All of a model's parameters on the GPU. */
export interface NeoXWeights {
  /** The input embedding, never quantized: f16, or f32 (an f32 model, or a quantized f32 checkpoint). */
  embedIn: Tensor<'f16' | 'f32'>;
  layers: LayerWeights[];
  finalNormWeight: Tensor<'f32'>;
  finalNormBias: Tensor<'f32'>;
  /**
   * The unembedding `[vocab, hidden]`: the same tensor as `embedIn` when tied, except in a
   * quantized model, where it is a quantized copy of it.
   */
  embedOut: MatrixWeight;
  /** Bytes of all parameters on the GPU (quantized matrices counted as stored). */
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
function bf16ToF32(
  bits: Uint16Array,
  out: Float32Array = new Float32Array(bits.length),
): Float32Array {
  const wide = new Uint32Array(out.buffer, out.byteOffset, bits.length);
  for (let i = 0; i < bits.length; i++) wide[i] = bits[i]! << 16;
  return out.subarray(0, bits.length);
}

/** Refuses a tensor that is not a float dtype the loader converts. */
function checkFloat(entry: TensorEntry): void {
  if (entry.dtype !== 'F16' && entry.dtype !== 'F32' && entry.dtype !== 'BF16') {
    throw new UnsupportedWeightsError(
      `tensor ${entry.name} is ${entry.dtype}; weights must be F32, F16 or BF16`,
    );
  }
}

/** A checkpoint tensor's values in the wanted GPU dtype (f16 as bit patterns). */
function convert(
  entry: TensorEntry,
  bytes: Uint8Array,
  dtype: 'f16' | 'f32',
): Float32Array | Uint16Array {
  checkFloat(entry);
  const data = tensorData(entry.dtype, bytes);
  switch (entry.dtype) {
    case 'F16':
      return dtype === 'f16' ? (data as Uint16Array) : f16BitsToF32Array(data as Uint16Array);
    case 'F32':
      return dtype === 'f32' ? (data as Float32Array) : f32ArrayToF16Bits(data as Float32Array);
    default: {
      const wide = bf16ToF32(data as Uint16Array);
      return dtype === 'f32' ? wide : f32ArrayToF16Bits(wide);
    }
  }
}

/**
 * The state-dict names of the matrices a quantized model quantizes, with their `[N, K]`: the four
 * of every block and `embed_out` (`embed_in`'s values again when the embeddings are tied).
 */
export function quantizedMatrices(config: NeoXConfig): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const [name, shape] of expectedShapes(config)) {
    if (shape.length === 2 && name !== 'gpt_neox.embed_in.weight') {
      out.set(name, shape as [number, number]);
    }
  }
  if (config.tieWordEmbeddings) out.set('embed_out.weight', [config.vocabSize, config.hiddenSize]);
  return out;
}

/**
 * Refuses, before anything is read or allocated, a model whose quantized matrices do not have a
 * row length (K, the input width) that is a multiple of {@link QUANT_BLOCK}: quantized blocks
 * never straddle rows. Every Pythia size qualifies (hidden sizes 128 … 5120, MLP 4×).
 *
 * @throws {UnsupportedWeightsError} naming the first such tensor.
 */
export function checkQuantizable(config: NeoXConfig, dtype: WeightDtype): void {
  if (!isQuantized(dtype)) return;
  const name = unquantizableMatrix(config);
  if (name !== undefined) {
    const k = quantizedMatrices(config).get(name)![1];
    throw new UnsupportedWeightsError(
      `cannot quantize ${name} to ${dtype}: its rows hold ${k} weights, not a multiple of ` +
        `${QUANT_BLOCK} (the quantization block). Load this model with dtype: 'f16' or 'f32'`,
    );
  }
}

/**
 * The first matrix of a model that `q8` and `q4` cannot quantize (its rows are not whole blocks
 * of {@link QUANT_BLOCK} weights), or undefined when every one can, as for every Pythia size.
 *
 * @example
 * ```ts
 * const dtypes = unquantizableMatrix(config) === undefined ? ['f16', 'q8', 'q4'] : ['f16'];
 * ```
 */
export function unquantizableMatrix(config: NeoXConfig): string | undefined {
  for (const [name, [, k]] of quantizedMatrices(config)) {
    if (k % QUANT_BLOCK !== 0) return name;
  }
  return undefined;
}

/** Default size of a piece of a matrix read, converted and uploaded on load: 4 MiB as f32. */
export const PIECE_BYTES = 4 * 2 ** 20;

/** Options of {@link uploadWeights}. */
export interface UploadOptions {
  /** Weight matrices on the GPU (LayerNorm parameters and biases are always f32). */
  dtype: WeightDtype;
  /**
   * With a quantized `dtype`: the dtype of `embed_in`, which stays unquantized (the checkpoint's
   * own, `checkpointDtype`). Default `f16`.
   */
  embedDtype?: 'f16' | 'f32';
  /**
   * Each matrix is read, converted (or quantized) and uploaded in pieces of whole rows of at most
   * this many bytes as f32 (at least one row; two when rows are odd-length). Default
   * {@link PIECE_BYTES}.
   */
  pieceBytes?: number;
  /** Upload NaN and ±Infinity (and f16 overflows) instead of refusing them. */
  allowNonFinite?: boolean;
  /**
   * With a quantized `dtype`: where the quantized matrices come from instead of the checkpoint
   * (`read`, a cache file holding every one), or where they are kept as they are quantized
   * (`write`). See quantized-cache.ts.
   */
  quantizedCache?: { read: QuantizedCacheReader } | { write: QuantizedCacheWriter };
  onTensor?: (name: string, index: number, count: number) => void;
}

/** A piece of whole rows of a matrix, read from the checkpoint where it lies. */
interface Piece {
  row: number;
  rows: number;
  bytes: Uint8Array;
}

/**
 * Reads the matrix `name` a piece of `pieceRows` whole rows at a time into `staging` (reused:
 * each piece must be consumed before the next is read), so the host holds one piece of it.
 */
async function* matrixPieces(
  checkpoint: Checkpoint,
  name: string,
  entry: TensorEntry,
  pieceRows: number,
  staging: Uint8Array,
): AsyncGenerator<Piece> {
  const [n, k] = entry.shape as [number, number];
  const rowBytes = k * (entry.dtype === 'F32' ? 4 : 2);
  for (let row = 0; row < n; row += pieceRows) {
    const rows = Math.min(pieceRows, n - row);
    const range = { offset: row * rowBytes, length: rows * rowBytes };
    const bytes = await checkpoint.read(name, staging, range);
    // A reader that ignored the range would hand over the wrong rows without a word.
    if (bytes.length !== range.length) {
      throw new ModelSourceError(
        `reading bytes [${range.offset}, ${range.offset + range.length}) of ${name} from ${checkpoint.repo}@${checkpoint.revision} gave ${bytes.length} bytes; the checkpoint's reader must honour read(name, into, range)`,
      );
    }
    yield { row, rows, bytes };
  }
}

/**
 * Quantizes the matrix `name` into a new `QuantizedTensor` a piece of whole rows at a time: each
 * piece is viewed in place (F16 as f16 bits, F32 as f32; BF16 is widened into `wide`, a reused
 * buffer of one piece), scanned for non-finite values, quantized on the CPU, uploaded, and handed
 * to `keep` (a cache file) when given.
 */
async function quantizeMatrix(
  device: Device,
  pieces: AsyncIterable<Piece>,
  entry: TensorEntry,
  format: QuantFormat,
  wide: Float32Array,
  check: ((piece: Uint8Array, values: Float32Array | Uint16Array) => Promise<void>) | undefined,
  keep: ((row: number, rows: QuantizedRows) => Promise<void>) | undefined,
): Promise<QuantizedTensor> {
  checkFloat(entry);
  return filled(
    QuantizedTensor.create(device, entry.shape as [number, number], format),
    async (q) => {
      for await (const { row, bytes } of pieces) {
        const data = tensorData(entry.dtype, bytes) as Float32Array | Uint16Array;
        const values = entry.dtype === 'BF16' ? bf16ToF32(data as Uint16Array, wide) : data;
        await check?.(bytes, values);
        // Awaited before the piece's bytes (or `wide`) are reused: paces the stream.
        const rows = await q.writeRows(row, values);
        await keep?.(row, rows);
      }
    },
  );
}

/** `tensor` once `fill` has written it; destroyed if `fill` fails, so a failed load leaks nothing. */
async function filled<T extends { destroy(): void }>(
  tensor: T,
  fill: (tensor: T) => Promise<void>,
): Promise<T> {
  try {
    await fill(tensor);
  } catch (error) {
    tensor.destroy();
    throw error;
  }
  return tensor;
}

/** Uploads the quantized matrix `name` [N, K] from a cache file, `pieceRows` rows at a time. */
async function uploadCachedMatrix(
  device: Device,
  cache: QuantizedCacheReader,
  name: string,
  [n, k]: readonly [number, number],
  format: QuantFormat,
  pieceRows: number,
): Promise<QuantizedTensor> {
  return filled(QuantizedTensor.create(device, [n, k], format), async (q) => {
    for (let row = 0; row < n; row += pieceRows) {
      await q.writeQuantizedRows(
        row,
        await cache.readRows(name, row, Math.min(pieceRows, n - row)),
      );
    }
  });
}

/** Uploads the matrix `name` in `dtype` a piece of whole rows at a time (see {@link matrixPieces}). */
async function uploadMatrix(
  device: Device,
  pieces: AsyncIterable<Piece>,
  entry: TensorEntry,
  dtype: 'f16' | 'f32',
  check: ((piece: Uint8Array, values: Float32Array | Uint16Array) => Promise<void>) | undefined,
): Promise<Tensor<'f16' | 'f32'>> {
  const k = entry.shape[1]!;
  return filled(device.empty(entry.shape, dtype), async (tensor) => {
    for await (const { row, bytes } of pieces) {
      const values = convert(entry, bytes, dtype);
      await check?.(bytes, values);
      // Awaited before the staging buffer is reused for the next piece.
      await tensor.write(row * k, values as never);
    }
  });
}

/**
 * Uploads a checkpoint's parameters: matrices in `dtype` (f16 by default: 2 bytes per weight on
 * every adapter), LayerNorm parameters and biases in f32 (they are tiny, and f32 keeps an f32
 * checkpoint's values exact). Each tensor is checked against the shape `config.json` implies
 * before any byte is read, read into one reused staging buffer, converted, scanned for
 * non-finite values (unless `allowNonFinite`), and uploaded.
 *
 * Matrices are read a piece of whole rows at a time (`pieceBytes`, ranged reads where the
 * checkpoint's bytes lie), converted and uploaded, so the host holds one piece and the largest
 * vector, never a whole matrix: 4 MiB per piece by default, whatever the model's size. With `q8`
 * or `q4`, the matrices of the blocks and `embed_out` are quantized on the CPU piece by piece;
 * `embed_in` is uploaded in `embedDtype`.
 *
 * @throws {TensorMismatchError} a tensor is missing or has another shape.
 * @throws {NonFiniteWeightsError} a tensor holds NaN or ±Infinity, or a value f16 cannot hold.
 * @throws {UnsupportedWeightsError} a quantized matrix's rows are not a multiple of 32 long.
 */
export async function uploadWeights(
  checkpoint: Checkpoint,
  config: NeoXConfig,
  device: Device,
  options: UploadOptions,
): Promise<NeoXWeights> {
  const { dtype, onTensor } = options;
  checkQuantizable(config, dtype);
  const quantized = isQuantized(dtype) ? dtype : undefined;
  const matrixDtype = quantized ? (options.embedDtype ?? 'f16') : (dtype as 'f16' | 'f32');
  const source = `${checkpoint.repo}@${checkpoint.revision}`;
  const shapes = expectedShapes(config);
  const entries = new Map<string, TensorEntry>();
  for (const [name, shape] of shapes) entries.set(name, checkpoint.expect(name, shape));
  const toQuantize = quantized ? quantizedMatrices(config) : new Map<string, [number, number]>();
  const pieceBytes = Math.max(1, options.pieceBytes ?? PIECE_BYTES);
  // Rows per piece of a matrix whose rows hold k values: at most pieceBytes as f32, and an even
  // count when k is odd, since f16 tensors are written in pairs.
  const pieceRows = (k: number) => {
    const rows = Math.max(1, Math.floor(pieceBytes / (4 * k)));
    return k % 2 === 1 && rows > 1 ? rows - (rows % 2) : Math.max(rows, k % 2 === 1 ? 2 : 1);
  };
  // One staging buffer for every read: a vector whole, or a piece of a matrix.
  let stagingBytes = 0;
  let widest = 0;
  for (const entry of entries.values()) {
    const size = entry.dtype === 'F32' ? 4 : 2;
    if (entry.shape.length !== 2) {
      stagingBytes = Math.max(stagingBytes, entry.byteLength);
      continue;
    }
    const [n, k] = entry.shape as [number, number];
    const rows = Math.min(n, pieceRows(k));
    stagingBytes = Math.max(stagingBytes, rows * k * size);
    if (entry.dtype === 'BF16') widest = Math.max(widest, rows * k);
  }
  const staging = new Uint8Array(stagingBytes);
  const wide = new Float32Array(widest);
  const pieces = (name: string, entry: TensorEntry) =>
    matrixPieces(checkpoint, name, entry, pieceRows(entry.shape[1]!), staging);
  // A matrix is scanned a piece at a time; on a hit the whole tensor is read and scanned again,
  // so that the error gives its first bad index and count, as for any other tensor.
  const check = options.allowNonFinite
    ? undefined
    : (name: string, entry: TensorEntry, dtype: 'f16' | 'f32') =>
        async (piece: Uint8Array, values: Float32Array | Uint16Array) => {
          try {
            assertFinite(entry, source, piece, values);
          } catch (error) {
            const whole = await checkpoint.read(name);
            assertFinite(entry, source, whole, convert(entry, whole, dtype));
            throw error;
          }
        };
  const ownDtype = (entry: TensorEntry) => (entry.dtype === 'F16' ? 'f16' : 'f32');
  const uploaded = new Map<string, MatrixWeight>();
  let bytes = 0;
  let index = 0;
  const cache = options.quantizedCache;
  const quantize = async (target: string, name: string, entry: TensorEntry) => {
    const q =
      cache && 'read' in cache
        ? await uploadCachedMatrix(
            device,
            cache.read,
            target,
            entry.shape as [number, number],
            quantized!,
            pieceRows(entry.shape[1]!),
          )
        : await quantizeMatrix(
            device,
            pieces(name, entry),
            entry,
            quantized!,
            wide,
            check?.(name, entry, ownDtype(entry)),
            cache && 'write' in cache
              ? (row, rows) => cache.write.writeRows(target, row, rows)
              : undefined,
          );
    uploaded.set(target, q);
    bytes += q.byteLength;
  };
  try {
    for (const [name, entry] of entries) {
      if (toQuantize.has(name)) {
        await quantize(name, name, entry);
      } else if (entry.shape.length === 2) {
        const tensor = await uploadMatrix(
          device,
          pieces(name, entry),
          entry,
          matrixDtype,
          check?.(name, entry, matrixDtype),
        );
        uploaded.set(name, tensor);
        bytes += tensor.byteLength;
        // Tied embeddings in a quantized model: embed_out is a quantized copy of embed_in.
        if (name === 'gpt_neox.embed_in.weight' && quantized && config.tieWordEmbeddings) {
          await quantize('embed_out.weight', name, entry);
        }
      } else {
        const read = await checkpoint.read(name, staging);
        const values = convert(entry, read, 'f32');
        // Before the upload: a NaN weight would otherwise surface only as NaN logits, far from
        // the tensor that caused them.
        if (!options.allowNonFinite) assertFinite(entry, source, read, values);
        const tensor = device.empty(entry.shape, 'f32');
        // Awaited before the staging buffer is reused for the next tensor.
        await tensor.write(0, values as Float32Array);
        uploaded.set(name, tensor);
        bytes += tensor.byteLength;
      }
      onTensor?.(name, ++index, entries.size);
    }
  } catch (error) {
    for (const tensor of uploaded.values()) tensor.destroy();
    throw error;
  }
  const get = <T extends MatrixWeight>(name: string) => uploaded.get(name)! as T;
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
  const embedIn = get<Tensor<'f16' | 'f32'>>('gpt_neox.embed_in.weight');
  return {
    embedIn,
    layers,
    finalNormWeight: get('gpt_neox.final_layer_norm.weight'),
    finalNormBias: get('gpt_neox.final_layer_norm.bias'),
    embedOut: uploaded.get('embed_out.weight') ?? embedIn,
    bytes,
  };
}

/** Frees every parameter tensor. */
export function disposeWeights(weights: NeoXWeights): void {
  const all = new Set<Tensor | QuantizedTensor>([
    weights.embedIn,
    weights.embedOut,
    weights.finalNormWeight,
    weights.finalNormBias,
  ]);
  for (const layer of weights.layers) for (const t of Object.values(layer)) all.add(t);
  // Destroyed, not pooled: the next model's shapes may differ, and a pool would keep every byte.
  for (const t of all) t.destroy();
}
