// The model's parameters as TransformerLens names and shapes them (`W_Q` per head, `W_U` as
// [d_model, d_vocab], …), read back from the GPU as f32 whatever dtype they are stored in, for
// analyses of the weights themselves (OV and QK circuits, unembedding directions). A quantized
// model's matrices come back dequantized: the values its forward pass uses.
import { dequantize, f16BitsToF32Array, QuantizedTensor, type Tensor } from '@pythiajs/tensor-core';
import { ForwardError } from './errors.js';
import type { Activation } from './hooked-activation.js';
import type { NeoXModel } from './model.js';
import type { LayerWeights, MatrixWeight } from './weights.js';

/**
 * TransformerLens' parameter names of a GPT-NeoX model: `embed.W_E`, `unembed.W_U`,
 * `ln_final.w`/`.b`, and per block `blocks.{l}.`: `ln1.w`, `ln1.b`, `ln2.w`, `ln2.b`,
 * `attn.W_Q`, `attn.W_K`, `attn.W_V`, `attn.W_O`, `attn.b_Q`, `attn.b_K`, `attn.b_V`, `attn.b_O`,
 * `mlp.W_in`, `mlp.b_in`, `mlp.W_out`, `mlp.b_out`.
 */
export function parameterNames(model: NeoXModel): string[] {
  const names = ['embed.W_E'];
  for (let l = 0; l < model.config.numLayers; l++) {
    const b = `blocks.${l}`;
    names.push(
      ...['ln1.w', 'ln1.b', 'ln2.w', 'ln2.b'].map((n) => `${b}.${n}`),
      ...['W_Q', 'W_K', 'W_V', 'W_O', 'b_Q', 'b_K', 'b_V', 'b_O'].map((n) => `${b}.attn.${n}`),
      ...['W_in', 'b_in', 'W_out', 'b_out'].map((n) => `${b}.mlp.${n}`),
    );
  }
  names.push('ln_final.w', 'ln_final.b', 'unembed.W_U');
  return names;
}

/** A parameter's values as f32, whatever dtype it is stored in (f16 widened exactly). */
export async function readF32(t: Tensor<'f16' | 'f32'>): Promise<Float32Array> {
  const data = await t.read();
  return data instanceof Float32Array ? data : f16BitsToF32Array(data as Uint16Array);
}

/** Rows of a quantized matrix dequantized at once: at most this many bytes of f32. */
const DEQUANTIZE_BLOCK_BYTES = 64 * 2 ** 20;

/**
 * A weight matrix's values as f32, row-major `[out, in]`: a plain one widened exactly, a
 * quantized one (`q8`, `q4`) dequantized on the GPU a block of rows at a time, so that no
 * temporary exceeds 64 MiB (or the device's binding limit).
 */
export async function readMatrix(w: MatrixWeight): Promise<Float32Array> {
  if (!(w instanceof QuantizedTensor)) return readF32(w);
  const [n, k] = w.shape;
  const limit = Math.min(DEQUANTIZE_BLOCK_BYTES, w.device.limits.maxStorageBufferBindingSize);
  const block = Math.max(1, Math.floor(limit / (4 * k)));
  if (block >= n) {
    const all = dequantize(w);
    return all.read().finally(() => all.dispose());
  }
  const out = new Float32Array(n * k);
  for (let first = 0; first < n; first += block) {
    const rows = Math.min(block, n - first);
    const part = dequantize(
      w,
      Uint32Array.from({ length: rows }, (_, i) => first + i),
    );
    out.set(await part.read().finally(() => part.dispose()), first * k);
  }
  return out;
}

/** `m` [rows, cols] row-major, transposed: [cols, rows]. */
function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) out[c * rows + r] = m[r * cols + c]!;
  return out;
}

/**
 * One parameter, f32, with TransformerLens' shape (from the `[out, in]` matrices of the
 * checkpoint; f16 weights are widened exactly):
 * - `embed.W_E` `[d_vocab, d_model]`, `unembed.W_U` `[d_model, d_vocab]`;
 * - `attn.W_Q/W_K/W_V` `[n_heads, d_model, d_head]`, `attn.W_O` `[n_heads, d_head, d_model]`,
 *   `attn.b_Q/b_K/b_V` `[n_heads, d_head]`, `attn.b_O` `[d_model]`;
 * - `mlp.W_in` `[d_model, d_mlp]`, `mlp.W_out` `[d_mlp, d_model]`, biases `[d_mlp]`, `[d_model]`;
 * - LayerNorm `w`, `b` `[d_model]`.
 * The weights are those of the checkpoint, not folded or centred (TransformerLens' defaults
 * `fold_ln`, `center_writing_weights` change them). In a quantized model (`dtype: 'q8' | 'q4'`)
 * the matrices (`W_Q/W_K/W_V/W_O`, `W_in`, `W_out`, `W_U`) are the dequantized values the model
 * computes with, which differ from the checkpoint's by the quantization error; `W_E` and the
 * vectors are the checkpoint's.
 *
 * @example
 * ```ts
 * const W_O = await readParameter(model, 'blocks.2.attn.W_O'); // [heads, d_head, d_model]
 * const W_U = await readParameter(model, 'unembed.W_U'); // [d_model, d_vocab]
 * ```
 * @throws {ForwardError} an unknown name (the message lists the names).
 */
export async function readParameter(model: NeoXModel, name: string): Promise<Activation> {
  const { config, weights } = model;
  const d = config.hiddenSize;
  const heads = config.numHeads;
  const headDim = d / heads;
  if (name === 'embed.W_E')
    return { data: await readF32(weights.embedIn), shape: [config.vocabSize, d] };
  if (name === 'unembed.W_U') {
    const data = transpose(await readMatrix(weights.embedOut), config.vocabSize, d);
    return { data, shape: [d, config.vocabSize] };
  }
  if (name === 'ln_final.w') return { data: await readF32(weights.finalNormWeight), shape: [d] };
  if (name === 'ln_final.b') return { data: await readF32(weights.finalNormBias), shape: [d] };
  const match = /^blocks\.(\d+)\.(.+)$/.exec(name);
  const layer = match ? weights.layers[Number(match[1])] : undefined;
  if (!match || !layer) throw unknown(model, name);
  const part = match[2]!;
  const vector = (t: Tensor<'f16' | 'f32'>) => async () => ({ data: await readF32(t), shape: [d] });
  const simple: Record<string, () => Promise<Activation>> = {
    'ln1.w': vector(layer.ln1Weight),
    'ln1.b': vector(layer.ln1Bias),
    'ln2.w': vector(layer.ln2Weight),
    'ln2.b': vector(layer.ln2Bias),
    'attn.b_O': vector(layer.denseBias),
    'mlp.b_out': vector(layer.downBias),
    'mlp.b_in': async () => ({
      data: await readF32(layer.upBias),
      shape: [config.intermediateSize],
    }),
    'mlp.W_in': async () => ({
      data: transpose(await readMatrix(layer.upWeight), config.intermediateSize, d),
      shape: [d, config.intermediateSize],
    }),
    'mlp.W_out': async () => ({
      data: transpose(await readMatrix(layer.downWeight), d, config.intermediateSize),
      shape: [config.intermediateSize, d],
    }),
  };
  if (simple[part]) return simple[part]();
  const qkv = /^attn\.(W|b)_(Q|K|V)$/.exec(part);
  if (qkv) return qkvPart(layer, qkv[1] as 'W' | 'b', 'QKV'.indexOf(qkv[2]!), d, heads, headDim);
  if (part === 'attn.W_O') {
    // dense.weight [d_model, heads·d_head]: head h's columns, transposed, are W_O[h].
    const dense = await readMatrix(layer.denseWeight);
    const data = new Float32Array(heads * headDim * d);
    for (let h = 0; h < heads; h++) {
      for (let e = 0; e < headDim; e++) {
        for (let m = 0; m < d; m++)
          data[(h * headDim + e) * d + m] = dense[m * d + h * headDim + e]!;
      }
    }
    return { data, shape: [heads, headDim, d] };
  }
  throw unknown(model, name);
}

/**
 * W_Q, W_K or W_V (`which` 0, 1, 2) `[heads, d_model, d_head]`, or its bias `[heads, d_head]`,
 * from query_key_value's rows, interleaved per head as `[heads, 3, d_head]`.
 */
async function qkvPart(
  layer: LayerWeights,
  kind: 'W' | 'b',
  which: number,
  d: number,
  heads: number,
  headDim: number,
): Promise<Activation> {
  if (kind === 'b') {
    const bias = await readF32(layer.qkvBias);
    const data = new Float32Array(heads * headDim);
    for (let h = 0; h < heads; h++) {
      data.set(
        bias.subarray((h * 3 + which) * headDim, (h * 3 + which + 1) * headDim),
        h * headDim,
      );
    }
    return { data, shape: [heads, headDim] };
  }
  const w = await readMatrix(layer.qkvWeight); // [heads·3·d_head, d_model]
  const data = new Float32Array(heads * d * headDim);
  for (let h = 0; h < heads; h++) {
    for (let e = 0; e < headDim; e++) {
      const row = ((h * 3 + which) * headDim + e) * d;
      for (let m = 0; m < d; m++) data[(h * d + m) * headDim + e] = w[row + m]!;
    }
  }
  return { data, shape: [heads, d, headDim] };
}

function unknown(model: NeoXModel, name: string): ForwardError {
  return new ForwardError(
    `no parameter ${JSON.stringify(name)}; parameters are embed.W_E, unembed.W_U, ln_final.w/b and ` +
      `blocks.{0…${model.config.numLayers - 1}}.{ln1.w, ln1.b, ln2.w, ln2.b, attn.W_Q/W_K/W_V/W_O, attn.b_Q/b_K/b_V/b_O, ` +
      'mlp.W_in, mlp.b_in, mlp.W_out, mlp.b_out} (parameterNames lists them)',
  );
}
