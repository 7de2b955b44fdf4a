import { isCpuAdapter } from '../adapter-kind.js';
import type { Device } from '../device.js';
import { ShapeError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import {
  ATTENTION_SPLIT_KEYS,
  attentionCombineWgsl,
  attentionSplitWgsl,
  attentionWgsl,
} from '../kernels/attention.js';
import {
  type AttentionLanesTile,
  attentionLanesGrid,
  attentionLanesWgsl,
} from '../kernels/attention-lanes.js';
import { placeRows, type SequencePacking } from '../packing.js';
import type { Tensor } from '../tensor.js';
import { checkDType, checkSameDevice } from './checks.js';
import { checkCache } from './split-qkv-rotary.js';

/** Options of {@link attention}. */
export interface AttentionOptions {
  /** Absolute position of the first query row (tokens already cached before this step). */
  positionOffset?: number;
  /**
   * Several sequences packed into the query rows (instead of `positionOffset`): each row attends
   * to its own sequence's cache rows cacheStart … cacheStart + position only. q must have
   * `packing.tokens` rows, and the caches at least `packing.cacheRows` positions.
   */
  packing?: SequencePacking;
  /**
   * Split each query's keys into blocks of 256, one workgroup each, and merge the blocks' partial
   * softmax sums in a second pass (flash-decoding). By default this happens when a row has more
   * than one block of keys and the partial results (rows · blocks · (headDim + 2) f32) stay under
   * 64 MiB: decoding, where one workgroup per row would leave most of the GPU idle, and prefills
   * of long prompts, where each row's keys would be walked serially. `true` forces it, `false`
   * forbids it. {@link attentionWithProbs} never splits. On CPU adapters (lavapipe, SwiftShader)
   * with subgroups, unless `true`, one kernel without workgroup memory serves every shape instead
   * ({@link attentionLanesTile}; on lavapipe 1.5× (decoding) to 40–60× (128-token prefills) faster).
   */
  splitKeys?: boolean;
  /**
   * Kernel override for tests and benchmarks: `true` runs {@link attentionLanesWgsl} wherever it
   * can run (subgroups of a known size, headDim % 4 = 0 and ≤ 80; else as if unset), `false`
   * never. Unset: {@link attentionLanesTile}'s rule. Ignored by {@link attentionWithProbs}.
   *
   * @internal
   */
  lanes?: boolean;
}

/** Output of {@link attentionWithProbs}. */
export interface AttentionResult {
  /** f32 [tokens, heads·headDim]. */
  output: Tensor<'f32'>;
  /**
   * f32 [heads, tokens, positionOffset + tokens] (packed: [heads, tokens, packing.maxKeys], key j
   * counted from the row's cacheStart): softmax weights, 0 where masked.
   */
  probs: Tensor<'f32'>;
}

/** Bytes of partial results (rows · key blocks · (headDim + 2) f32) up to which attention splits by default. */
const SPLIT_MAX_PARTIAL_BYTES = 64 * 2 ** 20;

/**
 * Whether {@link attention} splits the keys when `splitKeys` is not given: when some row has more
 * than one block of 256 keys, and the partial results stay under 64 MiB (and the device's
 * binding limit).
 *
 * The unsplit kernel runs one workgroup per (token, head) row, walking the row's keys 64 at a
 * time with three barriers each, so a row's cost grows with its context and only rows run in
 * parallel; the split pass runs rows · splits workgroups of ≤ 256 keys (four keys per invocation,
 * one reduction), then one combine workgroup per row. Splitting costs the partial results,
 * rows · splits · (headDim + 2) f32 written and read once more: a few percent of the traffic of
 * the keys and values themselves. Decoding (a few rows over long contexts) needs it to use more
 * than a handful of workgroups at all, and on lavapipe (2 cores) the split measured 4.5–10×
 * faster in every shape tried: batched decoding (16 sequences × 8 heads over 1030 keys: 37 vs
 * 179 ms), 128–512 rows over 1–2k keys, packed prefills of 7200–8000 rows and one-sequence
 * prefills of 2400–4800 rows. The cap bounds the memory: past it (a 2048-token prefill of 16+
 * heads) one workgroup per row already fills any GPU.
 *
 * CPU adapters with subgroups of a known size skip both for attention-lanes (see
 * {@link attentionLanesTile}), which measured faster there in every shape tried, split or not:
 * on lavapipe, headDim 64, against the split pass: 1 row over 2048 keys 1.8 vs 3.2 ms, 16 packed
 * sequences of 1 token over 1000 keys 20 vs 30 ms, 1024-token prefills 80 vs 1085 ms (8 heads)
 * and 80 vs 1455 ms (12 heads); against the unsplit kernel: 128-token prefills ~1.1 vs 45–65 ms.
 */
export function splitByDefault(
  rows: number,
  splits: number,
  headDim: number,
  bindingLimit: number,
): boolean {
  const partialBytes = rows * splits * (headDim + 2) * 4;
  return splits > 1 && partialBytes <= Math.min(SPLIT_MAX_PARTIAL_BYTES, bindingLimit);
}

/**
 * The tile of {@link attentionLanesWgsl} for `tokens` query rows of `headDim` on `device`, in runs
 * of `rowsPerSequence` consecutive rows of one sequence (= tokens without packing), or undefined
 * where it cannot run: it needs subgroups of one known size (a workgroup is one subgroup whose
 * lanes share key and value rows by subgroupShuffle) and headDim % 4 = 0 (vec4 rows), ≤ 80 (a
 * row's q and accumulators live in registers, the headDim/4 steps unrolled: on lavapipe a cold
 * compile took 1.0 s at headDim 64 and 1 row per lane, 2.4 s at 2 rows, 4.1 s at headDim 80 and
 * 2 rows, but 9–13 s at headDim 96–128; Mesa caches compiled shaders on disk, browsers may not).
 *
 * Rows per lane R (a workgroup takes S·R consecutive rows, S the subgroup size): each key row
 * loaded feeds S·R query rows, but the workgroup walks the keys of its last row, so rows of an
 * earlier position (or of another sequence) idle through up to S·R − 1 masked keys. Measured on
 * lavapipe (S = 8, headDim 64; ms, same run): 1 row over 2048 keys R=1 1.8, R=2 4.7, R=4 8.3;
 * 8 rows from position 120: 0.20 / 0.33 / 0.46; 16 sequences of 1 token over 1000 keys: 20 / 25 /
 * 53; 128-token prefill, 8 heads: 1.3 / 1.1 / 1.05; 8 packed sequences of 128 tokens, 8 heads:
 * 13.4 / 9.6 / 10.1 (12 heads: 34 / 26 / 27); 512 tokens: 19 / 18 / 11; 1024 tokens, 8 heads:
 * 105 / 80 / 54 (12 heads: 96 / 80 / 61). Hence R = 1 up to S rows per sequence, else 2: R = 4
 * gains 1.3–1.6× only past ~500 rows per sequence, and costs a cold compile of 8.5 s (vs 2.4).
 */
export function attentionLanesTile(
  device: Device,
  headDim: number,
  tokens: number,
  rowsPerSequence = tokens,
): AttentionLanesTile | undefined {
  const { subgroups, subgroupSize } = device.features;
  if (!subgroups || subgroupSize === undefined || headDim % 4 !== 0 || headDim > 80) {
    return undefined;
  }
  if (subgroupSize > device.limits.maxComputeInvocationsPerWorkgroup) return undefined;
  const rows = rowsPerSequence <= subgroupSize ? 1 : 2;
  return { headDim, lanes: subgroupSize, rows };
}

function run(
  q: Tensor<'f32'>,
  kCache: Tensor<'f32'>,
  vCache: Tensor<'f32'>,
  options: AttentionOptions,
  withProbs: boolean,
): { output: Tensor<'f32'>; probs?: Tensor<'f32'> } {
  const op = withProbs ? 'attentionWithProbs' : 'attention';
  checkDType(op, 'q', q, 'f32');
  checkSameDevice(op, q, kCache, vCache);
  const [tokens, heads, headDim] = q.shape;
  if (q.shape.length !== 3 || tokens === undefined || !heads || !headDim || headDim > 256) {
    throw new ShapeError(`${op}: q must be [tokens, heads, headDim ≤ 256], got ${q.toString()}`);
  }
  const maxPositions = checkCache(op, 'kCache', kCache, heads, headDim);
  checkCache(op, 'vCache', vCache, heads, headDim);
  const device = q.device;
  const { table, positionOffset } = placeRows(op, options, tokens, device, maxPositions);
  const { packing } = options;
  if (!packing) {
    if (!Number.isInteger(positionOffset) || positionOffset < 0) {
      throw new ShapeError(`${op}: positionOffset must be a non-negative integer`);
    }
    if (positionOffset + tokens > maxPositions) {
      throw new ShapeError(
        `${op}: positions up to ${positionOffset + tokens - 1} overrun a cache of ${maxPositions} positions`,
      );
    }
  }
  // Keys of the longest query row, the probs row length.
  const maxKeys = packing ? packing.maxKeys : positionOffset + tokens;
  const output = device.empty([tokens, heads * headDim], 'f32');
  const probs = withProbs ? device.empty([heads, tokens, maxKeys], 'f32') : undefined;
  if (tokens === 0) return { output, probs };
  const rows = tokens * heads;
  const splits = Math.ceil(maxKeys / ATTENTION_SPLIT_KEYS);
  const params = new ArrayBuffer(28);
  new Uint32Array(params, 0, 7).set([
    tokens,
    heads,
    headDim,
    maxPositions,
    packing ? maxKeys : positionOffset, // the kernels' field 5: max_keys or position_offset
    0,
    splits,
  ]);
  new Float32Array(params, 20, 1)[0] = 1 / Math.sqrt(headDim);
  const vec4 = headDim % 4 === 0;
  const packed = table !== undefined;
  const withTable = <T>(bindings: T[]): (T | Tensor)[] => (table ? [...bindings, table] : bindings);
  const maxPerDimension = device.limits.maxComputeWorkgroupsPerDimension;
  const sequences = packing ? packing.segments.filter((s) => s.length > 0).length : 1;
  const lanesTile = withProbs
    ? undefined
    : attentionLanesTile(device, headDim, tokens, tokens / sequences);
  // On CPU adapters the lanes kernel measured faster than both others in every shape tried
  // (attentionLanesTile has the numbers), prefill and decode.
  const lanes =
    lanesTile !== undefined &&
    options.splitKeys !== true &&
    (options.lanes ?? isCpuAdapter(device.adapterInfo));
  const split =
    !withProbs &&
    !lanes &&
    (options.splitKeys ??
      splitByDefault(rows, splits, headDim, device.limits.maxStorageBufferBindingSize));
  if (lanes) {
    device.dispatch({
      code: attentionLanesWgsl(lanesTile, packed),
      bindings: withTable([q, kCache, vCache, output]),
      uniforms: new Uint8Array(params, 0, 24),
      workgroups: attentionLanesGrid(lanesTile, tokens, heads),
    });
  } else if (split) {
    // Partial results of every (row, block); blocks past a row's last key stay unwritten.
    const partO = device.empty([rows * splits, headDim], 'f32');
    const partMl = device.empty([rows * splits, 2], 'f32');
    device.dispatch({
      code: attentionSplitWgsl(vec4, packed),
      bindings: withTable([q, kCache, vCache, partO, partMl]),
      uniforms: new Uint8Array(params),
      workgroups: workgroupGrid(rows * splits, maxPerDimension),
    });
    device.dispatch({
      code: attentionCombineWgsl(packed),
      bindings: withTable([partO, partMl, output]),
      uniforms: new Uint8Array(params),
      workgroups: workgroupGrid(rows, maxPerDimension),
    });
    partO.dispose();
    partMl.dispose();
  } else {
    device.dispatch({
      code: attentionWgsl(withProbs, vec4, packed),
      bindings: withTable(probs ? [q, kCache, vCache, output, probs] : [q, kCache, vCache, output]),
      uniforms: new Uint8Array(params, 0, 24),
      workgroups: workgroupGrid(rows, maxPerDimension),
    });
  }
  return { output, probs };
}

/**
 * Causal multi-head attention of q f32 [tokens, heads, headDim ≤ 256] over KV caches f32
 * [heads, maxPositions, headDim] (filled by {@link splitQkvRotary}): the query at absolute
 * position p = positionOffset + t attends to cache rows 0…p with weights softmax(q·k/√headDim),
 * computed in f32 with max subtraction. With `packing` (several sequences, see `packSequences`)
 * row t at position p of a sequence whose rows start at cacheStart attends to cache rows
 * cacheStart … cacheStart + p. Serves prefill (many rows) and decode (one row); a few
 * rows over more than 256 keys (decoding) split the keys over several workgroups and merge the
 * partial results in a second dispatch (see {@link AttentionOptions.splitKeys}). CPU adapters
 * (lavapipe, SwiftShader) run one kernel without workgroup memory instead (attention-lanes), equal
 * within f32 rounding.
 * Returns f32 [tokens, heads·headDim].
 *
 * @throws {ShapeError} q or the caches have the wrong shape, positions overrun the caches, or a
 *   packing does not match q's rows, comes with `positionOffset`, or needs more cache rows than
 *   the caches hold.
 *
 * @example
 * ```ts
 * const context = attention(q, kCache, vCache, { positionOffset: cachedTokens });
 * const attnOut = matmul(context, denseWeight, denseBias);
 * // a packed batch: one token of each of 16 sequences
 * const batch = attention(q16, kCache, vCache, { packing });
 * ```
 */
export function attention(
  q: Tensor<'f32'>,
  kCache: Tensor<'f32'>,
  vCache: Tensor<'f32'>,
  options: AttentionOptions = {},
): Tensor<'f32'> {
  return run(q, kCache, vCache, options, false).output;
}

/**
 * {@link attention} that also writes the attention probabilities f32
 * [heads, tokens, positionOffset + tokens] (masked entries 0), for interpretability. With
 * `packing`, f32 [heads, tokens, packing.maxKeys]: row (h, t) holds the weights of keys
 * j = 0 … p of its own sequence (cache row cacheStart + j), then zeros.
 *
 * @example
 * ```ts
 * const { output, probs } = attentionWithProbs(q, kCache, vCache, { packing });
 * const weights = await probs.read(); // [heads, packing.tokens, packing.maxKeys]
 * ```
 */
export function attentionWithProbs(
  q: Tensor<'f32'>,
  kCache: Tensor<'f32'>,
  vCache: Tensor<'f32'>,
  options: AttentionOptions = {},
): AttentionResult {
  const { output, probs } = run(q, kCache, vCache, options, true);
  return { output, probs: probs! };
}
