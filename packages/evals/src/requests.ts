/**
 * What a task asks the model: the log-likelihood of `continuation` after `context`, and whether
 * greedy decoding from the context would produce it (lm-evaluation-harness's `rf.loglikelihood`).
 */
export interface LoglikelihoodRequest {
  context: string;
  continuation: string;
}

/** The model's answer to one request: the summed log-probability and the greedy check. */
export interface LoglikelihoodResult {
  logprob: number;
  isGreedy: boolean;
}

/**
 * The tokenizer the requests need: `encode` as Hugging Face's `tokenizer.encode(text,
 * add_special_tokens=False)`. `@pythiajs/tokenizer`'s `Tokenizer` is one.
 */
export interface TokenizerLike {
  encode(text: string): number[];
  /** The end-of-text id, the context of a request whose context is empty (0 for GPT-NeoX-20B). */
  readonly eosTokenId?: number | undefined;
}

/** One request as token windows: what the model runs on and which of its rows score what. */
export interface LoglikelihoodTokens {
  /** The model's input: context + continuation ids, cut to the last `maxLength + 1`, less the last. */
  input: number[];
  /** The continuation's ids, encoded on their own: what the rows at `positions` must predict. */
  continuation: number[];
  /** `positions[j]` is the row of `input` whose next-token distribution scores `continuation[j]`. */
  positions: number[];
  /** The context's ids as encoded (`[eosTokenId]` for an empty context), before truncation. */
  context: number[];
  /** How many ids the left truncation dropped from the front of context + continuation. */
  truncated: number;
}

/**
 * Thrown when a request cannot be posed as the harness poses it (the harness asserts the same).
 */
export class LoglikelihoodRequestError extends Error {
  override name = 'LoglikelihoodRequestError';
}

/**
 * A request as the token windows of lm-evaluation-harness v0.3.0 (`BaseLM.loglikelihood` and
 * `_loglikelihood_tokens`, the code behind the Pythia paper's results):
 *
 * - the context and the continuation are encoded **separately** (`tok_encode(context)`,
 *   `tok_encode(continuation)`); an empty context is `[eot_token_id]`;
 * - the input is `(context + continuation)[-(maxLength + 1):][:-1]`: the pair cut from the left to
 *   `maxLength + 1` ids, then its last id dropped;
 * - the continuation is scored by the last `continuation.length` rows of the input
 *   (`logits[inplen - contlen : inplen]`), row `inplen − contlen + j` scoring `continuation[j]`.
 *
 * Later harness versions (0.4 on) encode `context + continuation` as one string and split the
 * ids where the context's own encoding ends, after moving trailing spaces of the context into the
 * continuation (`_encode_pair`). Where a BPE merge crosses the boundary the two differ. With the
 * GPT-NeoX-20B tokenizer, "Answer:" + " yes" is the same either way, but "pre" + "dict" is
 * `pre` `dict` here, while "predict" is one token there, and "The capital of France is " +
 * "Paris" scores `Paris` after a lone `" "` token here and `" Paris"` there. These functions do
 * what v0.3.0 did.
 *
 * `maxLength` is the model's context (`max_position_embeddings`, 2048 for Pythia).
 */
export function loglikelihoodTokens(
  tokenizer: TokenizerLike,
  context: string,
  continuation: string,
  maxLength: number,
): LoglikelihoodTokens {
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    throw new RangeError(
      `maxLength must be a positive integer (the model's context), not ${maxLength}`,
    );
  }
  let contextIds: number[];
  if (context === '') {
    const eos = tokenizer.eosTokenId;
    if (eos === undefined) {
      throw new LoglikelihoodRequestError(
        'the context is empty, so it is the end-of-text token, but the tokenizer has no eosTokenId; pass a tokenizer with one (GPT-NeoX-20B: 0)',
      );
    }
    contextIds = [eos];
  } else {
    contextIds = tokenizer.encode(context);
  }
  const continuationIds = tokenizer.encode(continuation);
  return windowOf(contextIds, continuationIds, maxLength);
}

/** {@link loglikelihoodTokens} for ids already encoded (the harness's `_loglikelihood_tokens`). */
export function windowOf(
  contextIds: readonly number[],
  continuationIds: readonly number[],
  maxLength: number,
): LoglikelihoodTokens {
  // The harness's sanity checks.
  if (contextIds.length === 0) {
    throw new LoglikelihoodRequestError(
      'the context encodes to no ids; the harness requires at least one',
    );
  }
  if (continuationIds.length === 0) {
    throw new LoglikelihoodRequestError(
      'the continuation encodes to no ids; the harness requires at least one',
    );
  }
  if (continuationIds.length > maxLength) {
    throw new LoglikelihoodRequestError(
      `the continuation is ${continuationIds.length} ids, more than the model's ${maxLength}`,
    );
  }
  const whole = [...contextIds, ...continuationIds];
  const kept = whole.slice(Math.max(0, whole.length - (maxLength + 1)));
  const input = kept.slice(0, -1);
  const n = continuationIds.length;
  const positions = Array.from({ length: n }, (_, j) => input.length - n + j);
  return {
    input,
    continuation: [...continuationIds],
    positions,
    context: [...contextIds],
    truncated: whole.length - kept.length,
  };
}

/**
 * The columns of each logits row the v0.3.0 `hf-causal` model (`gpt2.HFLM`) kept before its
 * log-softmax: `_model_call` returned `logits[:, :, :50257]`, GPT-2's vocabulary. Pythia's rows
 * are 50 304 wide and the GPT-NeoX-20B tokenizer has 50 277 ids; the harness of that era took the
 * log-softmax over the first 50 257 only. Pass it as `columns` to {@link scoreRows} to do the same,
 * or leave `columns` out to use whole rows (what later versions do).
 */
export const HARNESS_LOGIT_COLUMNS = 50257;

/**
 * A request's result from the model's logits rows at `tokens.positions` (`rows[j]` is the row at
 * `positions[j]`), as the harness computes it: log-softmax over the first `columns` entries of
 * each row (all when unset) in float64, the continuation ids' entries summed, and greedy when
 * every row's first maximum is its continuation id (torch's `argmax`).
 */
export function scoreRows(
  tokens: Pick<LoglikelihoodTokens, 'continuation'>,
  rows: readonly ArrayLike<number>[],
  options: { columns?: number } = {},
): LoglikelihoodResult {
  if (rows.length !== tokens.continuation.length) {
    throw new RangeError(
      `expected ${tokens.continuation.length} rows (one per continuation id), got ${rows.length}`,
    );
  }
  let logprob = 0;
  let isGreedy = true;
  rows.forEach((row, j) => {
    const width = Math.min(options.columns ?? row.length, row.length);
    const id = tokens.continuation[j]!;
    if (id >= width) {
      throw new RangeError(`continuation id ${id} is outside the ${width} scored columns`);
    }
    let max = Number.NEGATIVE_INFINITY;
    let best = 0;
    for (let i = 0; i < width; i++) {
      const v = row[i]!;
      if (v > max) {
        max = v;
        best = i;
      }
    }
    let sum = 0;
    for (let i = 0; i < width; i++) sum += Math.exp(row[i]! - max);
    logprob += row[id]! - max - Math.log(sum);
    if (best !== id) isGreedy = false;
  });
  return { logprob, isGreedy };
}
