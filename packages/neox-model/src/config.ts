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
}

const ACTIVATIONS: readonly Activation[] = ['gelu', 'gelu_new', 'gelu_fast'];

type Json = Record<string, unknown>;

function positiveInt(json: Json, key: string): number {
  const v = json[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new InvalidConfigError(`"${key}" must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** The first of `keys` present (Hugging Face renamed some fields across versions). */
function number(json: Json, keys: readonly string[], fallback: number): number {
  for (const key of keys) {
    if (json[key] === undefined) continue;
    const v = json[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new InvalidConfigError(`"${key}" must be a number, got ${JSON.stringify(v)}`);
    }
    return v;
  }
  return fallback;
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
 * @throws {InvalidConfigError} naming the field that is missing or wrong.
 */
export function parseNeoXConfig(input: string | object): NeoXConfig {
  let json: unknown = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (error) {
      throw new InvalidConfigError(`not valid JSON (${(error as Error).message})`);
    }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidConfigError('must be a JSON object');
  }
  const c = json as Json;
  if (c.model_type !== undefined && c.model_type !== 'gpt_neox') {
    throw new InvalidConfigError(`model_type is ${JSON.stringify(c.model_type)}, not "gpt_neox"`);
  }
  const hiddenSize = positiveInt(c, 'hidden_size');
  const numHeads = positiveInt(c, 'num_attention_heads');
  if (hiddenSize % numHeads !== 0) {
    throw new InvalidConfigError(
      `hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`,
    );
  }
  const activation = (c.hidden_act ?? 'gelu') as Activation;
  if (!ACTIVATIONS.includes(activation)) {
    throw new InvalidConfigError(
      `hidden_act ${JSON.stringify(c.hidden_act)} is not one of ${ACTIVATIONS.join(', ')}`,
    );
  }
  const rotaryPct = number(c, ['rotary_pct', 'partial_rotary_factor'], 0.25);
  if (!(rotaryPct > 0 && rotaryPct <= 1))
    throw new InvalidConfigError(`rotary_pct ${rotaryPct} is not in (0, 1]`);
  const headDim = hiddenSize / numHeads;
  const rotaryDims = Math.floor(headDim * rotaryPct);
  if (rotaryDims % 2 !== 0) {
    throw new InvalidConfigError(
      `head_dim ${headDim} × rotary_pct ${rotaryPct} = ${rotaryDims} rotary dims, which is odd`,
    );
  }
  const layerNormEps = number(c, ['layer_norm_eps'], 1e-5);
  if (!(layerNormEps > 0))
    throw new InvalidConfigError(`layer_norm_eps ${layerNormEps} must be positive`);
  return {
    hiddenSize,
    numLayers: positiveInt(c, 'num_hidden_layers'),
    numHeads,
    intermediateSize: positiveInt(c, 'intermediate_size'),
    vocabSize: positiveInt(c, 'vocab_size'),
    maxPositions:
      c.max_position_embeddings === undefined ? 2048 : positiveInt(c, 'max_position_embeddings'),
    layerNormEps,
    parallelResidual: c.use_parallel_residual !== false,
    activation,
    rotaryPct,
    rotaryBase: number(c, ['rotary_emb_base', 'rope_theta'], 10000),
    tieWordEmbeddings: c.tie_word_embeddings === true,
    headDim,
    rotaryDims,
  };
}
