// Residual-stream decomposition and direct logit attribution, as TransformerLens'
// `ActivationCache` computes them (`accumulated_resid`, `decompose_resid`, `stack_head_results`,
// `apply_ln_to_stack`, `logit_attrs`), on the CPU over a cache from `runWithCache`, in float64.
//
// Pythia's weights are not folded: where TransformerLens (fold_ln=True) dots a normalized
// component with W_U[token], the direction here is w_ln ⊙ W_U[token] (the unembedding row scaled
// by ln_final's weight), and ln_final's bias adds the constant b_ln · W_U[token], reported apart.
// With it, the attributions of a decomposition of the final residual stream sum to the logit:
//   logit[t] = Σ_c ((x_c − mean(x_c)) / scale) · (w_ln ⊙ W_U[t]) + b_ln · W_U[t].
import { dequantize, embedding, QuantizedTensor } from '@pythiajs/tensor-core';
import { ForwardError } from './errors.js';
import type { Activation } from './hooked-activation.js';
import { type ActivationCache, runWithCache } from './interpret.js';
import type { NeoXModel } from './model.js';
import { readF32 } from './parameters.js';

/**
 * Components of the residual stream at some positions: `data` is row-major
 * `[components, positions, d_model]`, component `c` labelled `labels[c]` (TransformerLens'
 * labels), position `i` being the sequence's position `positions[i]`.
 */
export interface ResidualStack {
  labels: string[];
  data: Float64Array;
  shape: [components: number, positions: number, dModel: number];
  /** The sequence positions (from 0) of the stack's positions, in order. */
  positions: number[];
}

/** Options of {@link attributionNames}. */
export interface AttributionNamesOptions {
  /**
   * Also each layer's `attn.hook_result` (every head's write, heads × the size of
   * `hook_attn_out`), which {@link stackHeadResults} needs. Default false.
   */
  heads?: boolean;
}

/** Options of the stack builders ({@link accumulatedResid}, {@link decomposeResid}, …). */
export interface StackOptions {
  /**
   * The residual stream entering block `layer` (from 0 to `numLayers`; default `numLayers`: the
   * stream entering `ln_final`).
   */
  layer?: number;
  /**
   * TransformerLens' `apply_ln_to_stack`: each component centred (its mean over d_model
   * subtracted) and divided by the cached LayerNorm scale of the stream it is part of —
   * `ln_final.hook_scale` when `layer` is `numLayers`, else `blocks.{layer}.ln1.hook_scale`.
   */
  applyLn?: boolean;
  /** The positions to keep, in order (negative counts from the end); default all. */
  pos?: number | readonly number[];
}

/** Options of {@link accumulatedResid}. */
export interface AccumulatedResidOptions extends StackOptions {
  /** Also `blocks.{l}.hook_resid_mid` (sequential models only): labels `{l}_mid`. */
  inclMid?: boolean;
}

/** Options of {@link stackHeadResults}. */
export interface HeadResultsOptions extends StackOptions {
  /** Also `remainder`: the residual stream minus the sum of the heads' writes. */
  inclRemainder?: boolean;
}

/** Tokens: one for every position, or one per position. */
export type TokenChoice = number | ArrayLike<number>;

/** Options of {@link logitAttrs}. */
export interface LogitAttrsOptions {
  /** The token whose logit is attributed: one for all positions, or one per position. */
  tokens: TokenChoice;
  /** When given, the logit difference `tokens − incorrectTokens` is attributed instead. */
  incorrectTokens?: TokenChoice;
}

/** What {@link logitAttrs} gives. */
export interface LogitAttrs {
  labels: string[];
  /** Row-major `[components, positions]`: component · direction(token) (− direction(incorrect)). */
  data: Float64Array;
  shape: [components: number, positions: number];
  positions: number[];
  /** Per position, ln_final's bias term `b_ln · W_U[token]` (− `b_ln · W_U[incorrect]`). */
  bias: Float64Array;
}

/** Options of {@link directLogitAttribution}. */
export interface DirectLogitAttributionOptions {
  /**
   * The token whose logit is attributed: `'next'` (`ids[position + 1]`), an id, or an array of
   * one id or of one id per position of `ids` (the one at `position` is taken). Default: the
   * model's own top choice at `position`.
   */
  tokens?: 'next' | TokenChoice;
  /** When given (as `tokens`, without `'next'`), the logit difference is attributed. */
  incorrectTokens?: TokenChoice;
  /**
   * `'layer'` (default): `embed`, `{l}_attn_out`, `{l}_mlp_out`. `'head'`: `embed`, then per
   * layer each head `L{l}H{h}`, the attention output bias `L{l} bias` and `{l}_mlp_out`.
   */
  by?: 'layer' | 'head';
  /**
   * The position whose prediction is attributed (negative counts from the end); default the
   * last, or the last with a next token when `tokens` is `'next'`.
   */
  position?: number;
}

/** What {@link directLogitAttribution} gives: `Σ values + bias = logit`. */
export interface DirectLogitAttribution {
  labels: string[];
  /** Each component's share of the logit (difference). */
  values: Float64Array;
  /** ln_final's bias term `b_ln · W_U[token]` (− `b_ln · W_U[incorrect]`). */
  bias: number;
  /** The model's logit of `token` at `position` (minus `incorrectToken`'s), from the run. */
  logit: number;
  position: number;
  token: number;
  incorrectToken?: number;
}

/**
 * The hook names a cache needs for {@link accumulatedResid}, {@link decomposeResid} (at any
 * layer, with or without `applyLn`) and, with `heads: true`, {@link stackHeadResults}: the
 * embedding, every block's `hook_resid_pre`, `ln1.hook_scale`, `hook_attn_out`, `hook_mlp_out`
 * (and `hook_resid_mid` on sequential models), the last block's `hook_resid_post` and
 * `ln_final.hook_scale`.
 *
 * @example
 * ```ts
 * const { cache } = await runWithCache(model, ids, { names: attributionNames(model, { heads: true }) });
 * const heads = stackHeadResults(model, cache, { applyLn: true, pos: -1 });
 * ```
 */
export function attributionNames(
  model: NeoXModel,
  options: AttributionNamesOptions = {},
): string[] {
  const { numLayers, parallelResidual } = model.config;
  const names = ['hook_embed'];
  for (let l = 0; l < numLayers; l++) {
    const b = `blocks.${l}`;
    names.push(`${b}.hook_resid_pre`, `${b}.ln1.hook_scale`);
    if (options.heads) names.push(`${b}.attn.hook_result`);
    names.push(`${b}.hook_attn_out`);
    if (!parallelResidual) names.push(`${b}.hook_resid_mid`);
    names.push(`${b}.hook_mlp_out`);
  }
  names.push(`blocks.${numLayers - 1}.hook_resid_post`, 'ln_final.hook_scale');
  return names;
}

/** One component of a stack: fills `out` (d_model values) with its value at position `p`. */
interface Component {
  label: string;
  fill(p: number, out: Float64Array): void;
}

/** Reads activations from a cache, checking their shapes and that they cover the same tokens. */
class CacheReader {
  tokens: number | undefined;
  constructor(
    private readonly model: NeoXModel,
    private readonly cache: ActivationCache,
    private readonly hint: string,
  ) {}

  get(name: string): Activation {
    const a = this.cache.get(name);
    if (a === undefined) {
      throw new ForwardError(
        `the cache has no ${name}; make it with ` +
          `runWithCache(model, ids, { names: ${this.hint} })`,
      );
    }
    const { hiddenSize, numHeads } = this.model.config;
    const width = name.endsWith('hook_scale')
      ? [1]
      : name.endsWith('attn.hook_result')
        ? [numHeads, hiddenSize]
        : [hiddenSize];
    const ok =
      a.shape.length === width.length + 1 &&
      width.every((w, i) => a.shape[i + 1] === w) &&
      a.data.length === a.shape.reduce((x, y) => x * y, 1);
    if (!ok) {
      throw new ForwardError(
        `${name} in the cache is [${a.shape.join(', ')}], not [tokens, ${width.join(', ')}]: ` +
          "the cache is not this model's",
      );
    }
    const tokens = a.shape[0]!;
    if (this.tokens === undefined) this.tokens = tokens;
    else if (this.tokens !== tokens) {
      throw new ForwardError(
        `${name} in the cache has ${tokens} positions but other activations ${this.tokens}: ` +
          'the cache mixes runs',
      );
    }
    return a;
  }

  /** A `[tokens, d_model]` activation as a component. */
  row(label: string, name: string): Component {
    const { data } = this.get(name);
    const d = this.model.config.hiddenSize;
    return {
      label,
      fill: (p, out) => {
        for (let i = 0; i < d; i++) out[i] = data[p * d + i]!;
      },
    };
  }
}

function checkLayer(model: NeoXModel, layer: number | undefined): number {
  const n = model.config.numLayers;
  if (layer === undefined) return n;
  if (!Number.isInteger(layer) || layer < 0 || layer > n) {
    throw new ForwardError(`layer must be an integer from 0 to ${n}, got ${layer}`);
  }
  return layer;
}

/** A position (negative counts from the end) as one from 0, or an error naming the range. */
function resolvePosition(p: number, tokens: number, what = 'position'): number {
  const at = p < 0 ? tokens + p : p;
  if (!Number.isInteger(p) || at < 0 || at >= tokens) {
    throw new ForwardError(
      `${what} ${p} is out of range: the sequence has ${tokens} positions ` +
        `(0 to ${tokens - 1}, or −1 to −${tokens} from the end)`,
    );
  }
  return at;
}

function resolvePositions(pos: StackOptions['pos'], tokens: number): number[] {
  if (pos === undefined) return Array.from({ length: tokens }, (_, i) => i);
  const list = typeof pos === 'number' ? [pos] : Array.from(pos);
  return list.map((p) => resolvePosition(p, tokens));
}

/** The cached name of the residual stream entering block `layer` (`numLayers`: after the last). */
function residName(model: NeoXModel, layer: number): string {
  const n = model.config.numLayers;
  return layer === n ? `blocks.${n - 1}.hook_resid_post` : `blocks.${layer}.hook_resid_pre`;
}

/** The cached LayerNorm scale that reads the stream entering `layer`. */
function scaleName(model: NeoXModel, layer: number): string {
  return layer === model.config.numLayers
    ? 'ln_final.hook_scale'
    : `blocks.${layer}.ln1.hook_scale`;
}

/** Fills the stack of `components` at `positions`, normalized as `apply_ln_to_stack` when asked. */
function buildStack(
  model: NeoXModel,
  components: Component[],
  positions: number[],
  scale: Activation | undefined,
): ResidualStack {
  const d = model.config.hiddenSize;
  const P = positions.length;
  const data = new Float64Array(components.length * P * d);
  components.forEach((c, ci) => {
    positions.forEach((p, pi) => {
      c.fill(p, data.subarray((ci * P + pi) * d, (ci * P + pi + 1) * d));
    });
  });
  if (scale !== undefined) applyLn(data, d, P, positions, scale);
  return {
    labels: components.map((c) => c.label),
    data,
    shape: [components.length, P, d],
    positions,
  };
}

/** Centres each row of `data` ([components, P, d]) and divides it by its position's scale. */
function applyLn(
  data: Float64Array,
  d: number,
  P: number,
  positions: number[],
  scale: Activation,
): void {
  for (let row = 0; row < data.length / d; row++) {
    const s = scale.data[positions[row % P]!]!;
    const x = data.subarray(row * d, (row + 1) * d);
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[i]!;
    mean /= d;
    for (let i = 0; i < d; i++) x[i] = (x[i]! - mean) / s;
  }
}

/** The call that makes a cache fit for these functions, for error messages. */
function namesHint(heads: boolean): string {
  return heads ? 'attributionNames(model, { heads: true })' : 'attributionNames(model)';
}

/**
 * TransformerLens' `accumulated_resid`: the residual stream as it accumulates — `blocks.{l}
 * .hook_resid_pre` for l = 0 … `layer` (labels `{l}_pre`, with `{l}_mid` after each l < `layer`
 * when `inclMid`), and for `layer` = `numLayers` the stream entering `ln_final` (`final_post`)
 * in place of a resid_pre. With `applyLn` and the last layer, each component unembedded is the
 * logit lens at that depth (see {@link logitAttrs}).
 *
 * @throws {ForwardError} a needed activation is not in the cache (the error names the
 * `runWithCache` call to make), `inclMid` on a parallel-residual model (Pythia: there is no
 * resid_mid), a layer or position out of range.
 *
 * @example
 * ```ts
 * const { cache } = await runWithCache(model, ids, { names: attributionNames(model) });
 * const stack = accumulatedResid(model, cache, { applyLn: true, pos: -1 });
 * stack.labels; // ['0_pre', '1_pre', …, 'final_post']
 * const lens = await logitAttrs(model, stack, { tokens: answer }); // the logit lens of `answer`
 * ```
 */
export function accumulatedResid(
  model: NeoXModel,
  cache: ActivationCache,
  options: AccumulatedResidOptions = {},
): ResidualStack {
  const { numLayers, parallelResidual } = model.config;
  const layer = checkLayer(model, options.layer);
  if (options.inclMid && parallelResidual) {
    throw new ForwardError(
      'inclMid: this model has parallel residual blocks (as every Pythia model), so there is no ' +
        'resid_mid between attention and MLP; leave inclMid off',
    );
  }
  const reader = new CacheReader(model, cache, namesHint(false));
  const components: Component[] = [];
  for (let l = 0; l <= layer; l++) {
    if (l === numLayers) {
      components.push(reader.row('final_post', residName(model, numLayers)));
      continue;
    }
    components.push(reader.row(`${l}_pre`, `blocks.${l}.hook_resid_pre`));
    if (options.inclMid && l < layer) {
      components.push(reader.row(`${l}_mid`, `blocks.${l}.hook_resid_mid`));
    }
  }
  const scale = options.applyLn ? reader.get(scaleName(model, layer)) : undefined;
  const positions = resolvePositions(options.pos, reader.tokens!);
  return buildStack(model, components, positions, scale);
}

/**
 * TransformerLens' `decompose_resid`: the residual stream entering block `layer` as the sum of
 * what wrote it — `embed`, then `{l}_attn_out` and `{l}_mlp_out` for each l < `layer` (on
 * parallel and sequential blocks alike, the stream is their sum).
 *
 * @throws {ForwardError} a needed activation is not in the cache (the error names the
 * `runWithCache` call to make), a layer or position out of range.
 *
 * @example
 * ```ts
 * const { cache } = await runWithCache(model, ids, { names: attributionNames(model) });
 * const stack = decomposeResid(model, cache, { applyLn: true, pos: -1 });
 * const { labels, data, bias } = await logitAttrs(model, stack, { tokens: answer });
 * // Σ data + bias[0] = the logit of `answer` at the last position
 * ```
 */
export function decomposeResid(
  model: NeoXModel,
  cache: ActivationCache,
  options: StackOptions = {},
): ResidualStack {
  const layer = checkLayer(model, options.layer);
  const reader = new CacheReader(model, cache, namesHint(false));
  const components: Component[] = [reader.row('embed', 'hook_embed')];
  for (let l = 0; l < layer; l++) {
    components.push(reader.row(`${l}_attn_out`, `blocks.${l}.hook_attn_out`));
    components.push(reader.row(`${l}_mlp_out`, `blocks.${l}.hook_mlp_out`));
  }
  const scale = options.applyLn ? reader.get(scaleName(model, layer)) : undefined;
  const positions = resolvePositions(options.pos, reader.tokens!);
  return buildStack(model, components, positions, scale);
}

/** Each head's write of `blocks.{l}` (from `attn.hook_result`) as components `L{l}H{h}`. */
function headComponents(model: NeoXModel, reader: CacheReader, l: number): Component[] {
  const { numHeads: H, hiddenSize: d } = model.config;
  const { data } = reader.get(`blocks.${l}.attn.hook_result`);
  return Array.from({ length: H }, (_, h) => ({
    label: `L${l}H${h}`,
    fill: (p: number, out: Float64Array) => {
      const from = (p * H + h) * d;
      for (let i = 0; i < d; i++) out[i] = data[from + i]!;
    },
  }));
}

/**
 * TransformerLens' `stack_head_results`: every head's write into the residual stream
 * (`attn.hook_result`, without the attention output bias) of blocks 0 … `layer` − 1, labelled
 * `L{l}H{h}`; with `inclRemainder`, a last component `remainder`: the stream entering `layer`
 * minus the heads' sum (the embedding, the MLPs and the attention biases).
 *
 * @throws {ForwardError} a needed activation is not in the cache (the error names the
 * `runWithCache` call to make), a layer or position out of range.
 *
 * @example
 * ```ts
 * const { cache } = await runWithCache(model, ids, { names: attributionNames(model, { heads: true }) });
 * const stack = stackHeadResults(model, cache, { applyLn: true, pos: -1 });
 * const { data } = await logitAttrs(model, stack, { tokens: answer, incorrectTokens: wrong });
 * // data[c]: head stack.labels[c]'s direct effect on the logit difference
 * ```
 */
export function stackHeadResults(
  model: NeoXModel,
  cache: ActivationCache,
  options: HeadResultsOptions = {},
): ResidualStack {
  const layer = checkLayer(model, options.layer);
  const d = model.config.hiddenSize;
  const reader = new CacheReader(model, cache, namesHint(true));
  const heads: Component[] = [];
  for (let l = 0; l < layer; l++) heads.push(...headComponents(model, reader, l));
  const components = [...heads];
  if (options.inclRemainder) {
    const resid = reader.row('remainder', residName(model, layer));
    const head = new Float64Array(d);
    components.push({
      label: 'remainder',
      fill: (p, out) => {
        resid.fill(p, out);
        for (const c of heads) {
          c.fill(p, head);
          for (let i = 0; i < d; i++) out[i] = out[i]! - head[i]!;
        }
      },
    });
  }
  const scale = options.applyLn ? reader.get(scaleName(model, layer)) : undefined;
  if (reader.tokens === undefined) {
    // layer 0 without remainder: no components; the positions still come from the cache.
    reader.get(residName(model, layer));
  }
  const positions = resolvePositions(options.pos, reader.tokens!);
  return buildStack(model, components, positions, scale);
}

/** `tokens` as one id per position, each checked against the vocabulary. */
function tokensPerPosition(
  model: NeoXModel,
  tokens: TokenChoice,
  P: number,
  what: string,
): number[] {
  const list =
    typeof tokens === 'number' ? Array.from({ length: P }, () => tokens) : Array.from(tokens);
  if (list.length !== P) {
    throw new ForwardError(
      `${what} has ${list.length} ids but the stack has ${P} positions: give one id, or one per position`,
    );
  }
  const vocab = model.config.vocabSize;
  list.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0 || t >= vocab) {
      throw new ForwardError(
        `${what}: id ${t}${P > 1 ? ` (for position ${i})` : ''} is outside the vocabulary of ${vocab} ids`,
      );
    }
  });
  return list;
}

/**
 * Rows of the unembedding for `ids`, gathered on the GPU (only these rows come back), as a map
 * from id to its `d_model` values.
 */
async function unembedRows(model: NeoXModel, ids: number[]): Promise<Map<number, Float32Array>> {
  const unique = [...new Set(ids)];
  const d = model.config.hiddenSize;
  const index = model.device.tensor(Uint32Array.from(unique));
  let rows: Float32Array;
  try {
    const unembed = model.weights.embedOut;
    // A quantized unembedding's rows are gathered dequantized: the values the logits use.
    const gathered =
      unembed instanceof QuantizedTensor ? dequantize(unembed, index) : embedding(index, unembed);
    rows = await gathered.read().finally(() => gathered.dispose());
  } finally {
    index.dispose();
  }
  return new Map(unique.map((id, i) => [id, rows.subarray(i * d, (i + 1) * d)]));
}

/**
 * TransformerLens' `logit_attrs` with unfolded LayerNorm: each component of `stack` (normalized
 * with `applyLn`, for attributions that add up to logits) dotted with the logit direction of its
 * position's token, `w_ln ⊙ W_U[token]` (minus the incorrect token's: the logit difference).
 * `bias` is what ln_final's bias adds to that logit: `b_ln · W_U[token]` per position. For a
 * decomposition of the stream entering `ln_final` at position p, `Σ_c data[c, p] + bias[p]` is
 * the model's logit (difference) there. The unembedding rows are gathered on the GPU.
 *
 * @throws {ForwardError} a token outside the vocabulary, or not one id (or one per position).
 *
 * @example
 * ```ts
 * const { cache } = await runWithCache(model, ids, { names: attributionNames(model) });
 * const stack = decomposeResid(model, cache, { applyLn: true, pos: -1 });
 * const attrs = await logitAttrs(model, stack, { tokens: paris, incorrectTokens: rome });
 * attrs.labels.map((label, c) => [label, attrs.data[c]]); // each component's share of the difference
 * ```
 */
export async function logitAttrs(
  model: NeoXModel,
  stack: Pick<ResidualStack, 'labels' | 'data' | 'shape'> & { positions?: number[] },
  options: LogitAttrsOptions,
): Promise<LogitAttrs> {
  const d = model.config.hiddenSize;
  const [C, P, width] = stack.shape;
  if (width !== d || stack.data.length !== C * P * d || stack.labels.length !== C) {
    throw new ForwardError(
      `the stack is [${stack.shape.join(', ')}] with ${stack.labels.length} labels; ` +
        `it must be [components, positions, ${d}] with a label per component`,
    );
  }
  const tokens = tokensPerPosition(model, options.tokens, P, 'tokens');
  const incorrect =
    options.incorrectTokens === undefined
      ? undefined
      : tokensPerPosition(model, options.incorrectTokens, P, 'incorrectTokens');
  const [rows, w, b] = await Promise.all([
    unembedRows(model, [...tokens, ...(incorrect ?? [])]),
    readF32(model.weights.finalNormWeight),
    readF32(model.weights.finalNormBias),
  ]);
  // Per position: the unembedding difference u = W_U[t] (− W_U[incorrect]) and the direction w ⊙ u.
  const directions = new Float64Array(P * d);
  const bias = new Float64Array(P);
  for (let p = 0; p < P; p++) {
    const good = rows.get(tokens[p]!)!;
    const bad = incorrect === undefined ? undefined : rows.get(incorrect[p]!)!;
    let sum = 0;
    for (let i = 0; i < d; i++) {
      const u = good[i]! - (bad === undefined ? 0 : bad[i]!);
      directions[p * d + i] = w[i]! * u;
      sum += b[i]! * u;
    }
    bias[p] = sum;
  }
  const data = new Float64Array(C * P);
  for (let c = 0; c < C; c++) {
    for (let p = 0; p < P; p++) {
      const at = (c * P + p) * d;
      let sum = 0;
      for (let i = 0; i < d; i++) sum += stack.data[at + i]! * directions[p * d + i]!;
      data[c * P + p] = sum;
    }
  }
  return {
    labels: [...stack.labels],
    data,
    shape: [C, P],
    positions: stack.positions ?? Array.from({ length: P }, (_, i) => i),
    bias,
  };
}

/** One token choice of {@link directLogitAttribution} at `position`. */
function tokenAt(
  model: NeoXModel,
  choice: TokenChoice,
  ids: ArrayLike<number>,
  position: number,
  what: string,
): number {
  let id: number;
  if (typeof choice === 'number') id = choice;
  else if (choice.length === 1) id = choice[0]!;
  else if (choice.length === ids.length) id = choice[position]!;
  else {
    throw new ForwardError(
      `${what} has ${choice.length} ids: give one id, or one per position of ids (${ids.length})`,
    );
  }
  return tokensPerPosition(model, id, 1, what)[0]!;
}

/**
 * Direct logit attribution of one prediction: runs the model on `ids` (up to `position`, which
 * is all a causal prediction there reads) with the activations it needs, and splits the logit of
 * `tokens` at `position` (minus `incorrectTokens`', for a logit difference) into what each
 * component of the final residual stream writes along its direction, through ln_final's scale
 * at that position — by layer (`embed`, `{l}_attn_out`, `{l}_mlp_out`) or by head (`embed`,
 * each head `L{l}H{h}`, the attention output bias `L{l} bias`, `{l}_mlp_out`). With ln_final's
 * bias term the values sum to `logit`, the model's own logit (difference) from the run.
 *
 * @throws {ForwardError} a position out of range, `'next'` at the last position, a token
 * outside the vocabulary.
 *
 * @example
 * ```ts
 * const dla = await directLogitAttribution(model, ids, { tokens: answer, incorrectTokens: wrong, by: 'head' });
 * dla.labels.map((label, i) => [label, dla.values[i]]);
 * // dla.values.reduce((a, b) => a + b) + dla.bias ≈ dla.logit
 * ```
 */
export async function directLogitAttribution(
  model: NeoXModel,
  ids: ArrayLike<number>,
  options: DirectLogitAttributionOptions = {},
): Promise<DirectLogitAttribution> {
  const { numLayers } = model.config;
  const { tokens: choice, incorrectTokens, by = 'layer' } = options;
  if (by !== 'layer' && by !== 'head') {
    throw new ForwardError(`by must be 'layer' or 'head', got ${String(by)}`);
  }
  const T = ids.length;
  if (T === 0) throw new ForwardError('directLogitAttribution needs at least one token id');
  const position =
    options.position === undefined
      ? choice === 'next'
        ? T - 2
        : T - 1
      : resolvePosition(options.position, T);
  if (choice === 'next' && position >= T - 1) {
    throw new ForwardError(
      `tokens: 'next' needs a token after position ${position}, but the sequence has ${T} ` +
        'positions; attribute an earlier position or give the token',
    );
  }
  let token =
    choice === undefined
      ? undefined
      : choice === 'next'
        ? tokenAt(model, ids[position + 1]!, ids, position, 'tokens')
        : tokenAt(model, choice, ids, position, 'tokens');
  const incorrectToken =
    incorrectTokens === undefined
      ? undefined
      : tokenAt(model, incorrectTokens, ids, position, 'incorrectTokens');

  const names = ['hook_embed', 'ln_final.hook_scale'];
  for (let l = 0; l < numLayers; l++) {
    names.push(
      by === 'head' ? `blocks.${l}.attn.hook_result` : `blocks.${l}.hook_attn_out`,
      `blocks.${l}.hook_mlp_out`,
    );
  }
  // A causal prediction at `position` reads ids 0 … position only.
  const prefix = Array.from({ length: position + 1 }, (_, i) => ids[i]!);
  const { logits, cache } = await runWithCache(model, prefix, { names, logits: 'last' });
  if (token === undefined) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    token = best;
  }
  const logit = logits[token]! - (incorrectToken === undefined ? 0 : logits[incorrectToken]!);

  let stack: ResidualStack;
  if (by === 'layer') {
    stack = decomposeResid(model, cache, { applyLn: true, pos: position });
  } else {
    const reader = new CacheReader(model, cache, 'the names directLogitAttribution asks for');
    const d = model.config.hiddenSize;
    const denseBias = await Promise.all(model.weights.layers.map((w) => readF32(w.denseBias)));
    const components: Component[] = [reader.row('embed', 'hook_embed')];
    for (let l = 0; l < numLayers; l++) {
      const bias = denseBias[l]!;
      components.push(...headComponents(model, reader, l), {
        label: `L${l} bias`,
        fill: (_p, out) => {
          for (let i = 0; i < d; i++) out[i] = bias[i]!;
        },
      });
      components.push(reader.row(`${l}_mlp_out`, `blocks.${l}.hook_mlp_out`));
    }
    const scale = reader.get('ln_final.hook_scale');
    stack = buildStack(model, components, [position], scale);
  }
  const attrs = await logitAttrs(model, stack, {
    tokens: token,
    ...(incorrectToken === undefined ? {} : { incorrectTokens: incorrectToken }),
  });
  return {
    labels: attrs.labels,
    values: attrs.data,
    bias: attrs.bias[0]!,
    logit,
    position,
    token,
    ...(incorrectToken === undefined ? {} : { incorrectToken }),
  };
}
