import { InvalidConfigError } from './errors.js';

/** The activation functions GPT-NeoX checkpoints use. */
export type Activation = 'gelu' | 'gelu_new' | 'gelu_fast';

/** A GPT-NeoX architecture, as Hugging Face's `GPTNeoXConfig` reads `config.json`. */
export interface NeoXConfig {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  /** Width of the logits (50304 for most Pythia models; the tokenizer has 50277 ids). */
  vocabSize: number;
  maxPositions: number;
  layerNormEps: number;
  /** `x + attn(ln1(x)) + mlp(ln2(x))` (all Pythia models) rather than two sequential residuals. */
  parallelResidual: boolean;
  /** `gelu` is exact (erf); `gelu_new` and `gelu_fast` the tanh approximation. */
  activation: Activation;
  rotaryPct: number;
  rotaryBase: number;
  tieWordEmbeddings: boolean;
  /** `hiddenSize / numHeads`. */
  headDim: number;
  /** Dimensions of each head that rotary embedding rotates: `int(headDim * rotaryPct)`. */
  rotaryDims: number;
  /**
   * `torch_dtype` of `config.json` when it has one (`float16` for Pythia): the dtype the weights
   * were saved in, by Hugging Face's convention. It predicts the checkpoint's dtype before the
   * weights are downloaded (see `configDtype`); the tensors themselves decide at load.
   */
  torchDtype?: string;
}

const ACTIVATIONS: readonly Activation[] = ['gelu', 'gelu_new', 'gelu_fast'];

type Json = Record<string, unknown>;

/**
 * Upper bounds of the integer fields. Each is far above every published GPT-NeoX model
 * (Pythia-12B: 36 layers, hidden 5120, 40 heads, intermediate 20480, vocab 50688, context 2048;
 * GPT-NeoX-20B: 44 layers, hidden 6144, 64 heads, intermediate 24576, vocab 50432), so no real
 * config comes near them. They exist because the model builds per-layer tables and buffers from
 * these numbers: a damaged or hostile `num_hidden_layers: 1000000000` would otherwise spend
 * seconds and gigabytes before failing somewhere unrelated.
 */
export const CONFIG_LIMITS = {
  num_hidden_layers: 1024,
  hidden_size: 65_536,
  num_attention_heads: 1024,
  intermediate_size: 262_144,
  vocab_size: 1_048_576,
  max_position_embeddings: 1_048_576,
} as const;

type Fail = (problem: string) => InvalidConfigError;

function positiveInt(json: Json, key: keyof typeof CONFIG_LIMITS, fail: Fail): number {
  const v = json[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw fail(`"${key}" must be a positive integer, got ${JSON.stringify(v)}`);
  }
  if (v > CONFIG_LIMITS[key]) {
    throw fail(
      `"${key}" is ${v}, above the limit of ${CONFIG_LIMITS[key]} (far beyond any GPT-NeoX model; ` +
        'the file is damaged or not a model config)',
    );
  }
  return v;
}

/** The first of `keys` present (Hugging Face renamed some fields across versions). */
function number(json: Json, keys: readonly string[], fallback: number, fail: Fail): number {
  for (const key of keys) {
    if (json[key] === undefined) continue;
    const v = json[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw fail(`"${key}" must be a number, got ${JSON.stringify(v)}`);
    }
    return v;
  }
  return fallback;
}

/** Options of {@link parseNeoXConfig}. */
export interface ParseConfigOptions {
  /** Where the config came from (e.g. `EleutherAI/pythia-70m@step3000`), for error messages. */
  source?: string;
}

/**
 * Reads a GPT-NeoX `config.json` (text or parsed), with Hugging Face's defaults and the aliases
 * newer versions write (`partial_rotary_factor` for `rotary_pct`, `rope_theta` for
 * `rotary_emb_base`).
 *
 * @example
 * ```ts
 * const config = parseNeoXConfig(await (await fetch(url)).text());
 * config.headDim; // 64 for pythia-70m
 * ```
 * @throws {InvalidConfigError} naming the field that is missing, wrong, or above its limit in
 *   {@link CONFIG_LIMITS} (checked before anything is sized from it), and `options.source`.
 */
export function parseNeoXConfig(
  input: string | object,
  options: ParseConfigOptions = {},
): NeoXConfig {
  const fail: Fail = (problem) => new InvalidConfigError(problem, options.source);
  let json: unknown = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (error) {
      throw fail(`not valid JSON (${(error as Error).message})`);
    }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw fail('must be a JSON object');
  }
  const c = json as Json;
  if (c.model_type !== undefined && c.model_type !== 'gpt_neox') {
    throw fail(`model_type is ${JSON.stringify(c.model_type)}, not "gpt_neox"`);
  }
  const hiddenSize = positiveInt(c, 'hidden_size', fail);
  const numHeads = positiveInt(c, 'num_attention_heads', fail);
  if (hiddenSize % numHeads !== 0) {
    throw fail(`hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`);
  }
  const activation = (c.hidden_act ?? 'gelu') as Activation;
  if (!ACTIVATIONS.includes(activation)) {
    throw fail(
      `hidden_act ${JSON.stringify(c.hidden_act)} is not one of ${ACTIVATIONS.join(', ')}`,
    );
  }
  const rotaryPct = number(c, ['rotary_pct', 'partial_rotary_factor'], 0.25, fail);
  if (!(rotaryPct > 0 && rotaryPct <= 1)) throw fail(`rotary_pct ${rotaryPct} is not in (0, 1]`);
  const headDim = hiddenSize / numHeads;
  const rotaryDims = Math.floor(headDim * rotaryPct);
  if (rotaryDims % 2 !== 0) {
    throw fail(
      `head_dim ${headDim} × rotary_pct ${rotaryPct} = ${rotaryDims} rotary dims, which is odd`,
    );
  }
  const layerNormEps = number(c, ['layer_norm_eps'], 1e-5, fail);
  if (!(layerNormEps > 0)) throw fail(`layer_norm_eps ${layerNormEps} must be positive`);
  return {
    hiddenSize,
    numLayers: positiveInt(c, 'num_hidden_layers', fail),
    numHeads,
    intermediateSize: positiveInt(c, 'intermediate_size', fail),
    vocabSize: positiveInt(c, 'vocab_size', fail),
    maxPositions:
      c.max_position_embeddings === undefined
        ? 2048
        : positiveInt(c, 'max_position_embeddings', fail),
    layerNormEps,
    parallelResidual: c.use_parallel_residual !== false,
    activation,
    rotaryPct,
    rotaryBase: number(c, ['rotary_emb_base', 'rope_theta'], 10000, fail),
    tieWordEmbeddings: c.tie_word_embeddings === true,
    headDim,
    rotaryDims,
    ...(typeof c.torch_dtype === 'string' ? { torchDtype: c.torch_dtype } : {}),
  };
}
