import { createSampler, type SamplerOptions } from '@pythiajs/sampler';
import { ForwardError } from './errors.js';
import { type Hook, hookRunner } from './interpret.js';
import type { KVCache } from './kv-cache.js';
import type { NeoXModel } from './model.js';

/**
 * What `generate` needs of a tokenizer (`@pythiajs/tokenizer`'s `Tokenizer` has it); declared
 * here so the model package does not depend on the tokenizer package.
 */
export interface TokenizerLike {
  encode(text: string): number[];
  createStreamDecoder(options?: { skipSpecialTokens?: boolean }): {
    push(id: number): string;
    flush(): string;
  };
  /** Ids the tokenizer has (50277 for GPT-NeoX-20B; Pythia's logits are wider). */
  readonly vocabSize: number;
  readonly eosTokenId?: number | undefined;
}

/** Options of {@link generate}. */
export interface GenerateOptions extends SamplerOptions {
  /** The prompt as ids, or as `text` with a `tokenizer`. */
  ids?: ArrayLike<number>;
  text?: string;
  /** Decodes the stream (and encodes `text`); without it, `text` of each token is ''. */
  tokenizer?: TokenizerLike;
  /** Default 32. */
  maxNewTokens?: number;
  /** End before any of these strings; they are not part of the output. */
  stop?: readonly string[];
  /** End on this id (default: the tokenizer's EOS, or 0 — `<|endoftext|>`). `null`: never. */
  eosTokenId?: number | null;
  /**
   * Never produce ids the tokenizer does not have (Pythia's logits are 50304 wide; the tokenizer
   * has 50277 ids), through the sampler's `vocabSize`. Default: on when a tokenizer is given. Off
   * for parity with Hugging Face `generate`. `logprob` stays that of the model's full row.
   */
  maskUnknownTokens?: boolean;
  /** Continue this cache (default: a new one, freed at the end). */
  cache?: KVCache;
  signal?: AbortSignal;
  /**
   * Hooks (as for `runWithHooks`) applied at every step: on the prompt's step and on each new
   * token's, with the KV cache, so an intervention stays on as if the whole sequence were rerun
   * with it. Selections name absolute positions: `{ pos: 2 }` edits position 2 once (the cache
   * keeps the edited keys and values), a steering row added everywhere reaches every new token.
   * Patterns and scores of a decoding step are `[head, 1, keys]`.
   */
  hooks?: Record<string, Hook | Hook[]>;
}

/** One generated token. */
export interface GeneratedToken {
  id: number;
  /** The text it completes (never half a UTF-8 character; may be ''). */
  text: string;
  /** Its log-probability under the model. */
  logprob: number;
}

/** Why generation ended. */
export type StopReason = 'eos' | 'stop' | 'length' | 'context' | 'abort';

/**
 * One sequence's generation after its prompt: sampling with its own options and seed, the
 * history penalties look at, streaming text through the tokenizer's decoder, holding back text
 * that may begin a stop string, and deciding when it ends. `generate` runs one; `generateBatch`
 * runs one per request on a shared batch step.
 */
class Continuation {
  readonly prompt: ArrayLike<number>;
  readonly #options: GenerateOptions;
  readonly #maxNewTokens: number;
  readonly #eos: number | null;
  readonly #sample: ReturnType<typeof createSampler>;
  readonly #history: number[];
  readonly #decoder: { push(id: number): string; flush(): string } | undefined;
  #pending = '';
  #produced = 0;

  constructor(options: GenerateOptions) {
    const { tokenizer, maxNewTokens = 32 } = options;
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) {
      throw new ForwardError(`maxNewTokens must be a positive integer, got ${maxNewTokens}`);
    }
    if (options.ids !== undefined) this.prompt = options.ids;
    else if (options.text !== undefined && tokenizer) this.prompt = tokenizer.encode(options.text);
    else throw new ForwardError('generate needs ids, or text and a tokenizer');
    if (this.prompt.length === 0) {
      throw new ForwardError('the prompt is empty; give at least one token');
    }
    this.#options = options;
    this.#maxNewTokens = maxNewTokens;
    this.#eos =
      options.eosTokenId === undefined ? (tokenizer?.eosTokenId ?? 0) : options.eosTokenId;
    const mask = (options.maskUnknownTokens ?? tokenizer !== undefined) && tokenizer !== undefined;
    this.#sample = createSampler(mask ? { ...options, vocabSize: tokenizer.vocabSize } : options);
    this.#history = Array.from(this.prompt);
    this.#decoder = tokenizer?.createStreamDecoder({ skipSpecialTokens: true });
  }

  /** Positions this sequence may use: its prompt and every token it may add, within `limit`. */
  capacity(limit: number): number {
    return Math.min(limit, this.prompt.length + this.#maxNewTokens);
  }

  /**
   * Samples the next token from `logits` (the last position's row) and says whether the sequence
   * ends with it; `cacheFull` when the cache has no room for another token.
   */
  step(logits: Float32Array, cacheFull: boolean): { token: GeneratedToken; end?: StopReason } {
    const { stop = [] } = this.#options;
    const { id, logprob } = this.#sample(logits, {
      tokens: this.#history,
      generatedFrom: this.prompt.length,
    });
    this.#history.push(id);
    this.#produced++;
    const length = this.#produced === this.#maxNewTokens;
    const last = length || cacheFull || id === this.#eos;
    let text = this.#decoder?.push(id) ?? '';
    if (last && this.#decoder) text += this.#decoder.flush();
    this.#pending += text;
    const hit = firstStop(this.#pending, stop);
    if (hit !== undefined)
      return { token: { id, text: this.#pending.slice(0, hit), logprob }, end: 'stop' };
    const safe = last
      ? this.#pending.length
      : this.#pending.length - longestStopPrefix(this.#pending, stop);
    const token = { id, text: this.#pending.slice(0, safe), logprob };
    this.#pending = this.#pending.slice(safe);
    if (id === this.#eos) return { token, end: 'eos' };
    if (length) return { token, end: 'length' };
    if (cacheFull) return { token, end: 'context' };
    return { token };
  }
}

/**
 * Generates tokens one at a time as an async iterator; its return value says why it ended.
 *
 * @example
 * ```ts
 * for await (const { text } of generate(model, { text: 'Hello, I am', tokenizer, temperature: 0 })) {
 *   process.stdout.write(text);
 * }
 * ```
 */
export async function* generate(
  model: NeoXModel,
  options: GenerateOptions,
): AsyncGenerator<GeneratedToken, StopReason> {
  const sequence = new Continuation(options);
  const { signal } = options;
  const hooks = options.hooks ? hookRunner(model, options.hooks) : undefined;
  const cache = options.cache ?? model.createCache();
  try {
    let logits = await model.forward(sequence.prompt, { cache, logits: 'last', hooks });
    for (;;) {
      if (signal?.aborted) return 'abort';
      const { token, end } = sequence.step(logits, cache.length >= cache.capacity);
      yield token;
      if (end) return end;
      logits = await model.forward([token.id], { cache, logits: 'last', hooks });
    }
  } finally {
    if (!options.cache) cache.dispose();
  }
}

/** One prompt of {@link generateBatch}: the options of `generate`, and a callback per token. */
export interface BatchGenerateRequest extends Omit<GenerateOptions, 'cache' | 'signal' | 'hooks'> {
  /** Called with each token of this request as soon as it is sampled. */
  onToken?: (token: GeneratedToken) => void;
}

/** What one request of {@link generateBatch} produced. */
export interface GenerationResult {
  tokens: GeneratedToken[];
  /** The tokens' ids. */
  ids: number[];
  /** The tokens' text, joined. */
  text: string;
  reason: StopReason;
}

/**
 * Generates for several prompts at once, each with its own sampler options, seed, stop strings,
 * token limit and `onToken` callback. The prompts prefill as one packed batch, and every decode
 * step runs each matmul once over one new token of every unfinished sequence, so the weights are
 * read once per step rather than once per sequence. Each sequence's tokens are what `generate`
 * gives for it alone (greedy tokens identical; sampled ones too, with the same seed).
 *
 * @example
 * ```ts
 * const results = await generateBatch(model, [
 *   { text: 'The capital of France is', tokenizer, temperature: 0 },
 *   { text: 'Once upon a time', tokenizer, temperature: 0.8, seed: 7, onToken: (t) => log(t.text) },
 * ]);
 * results[0].text; results[1].reason; // 'length', 'eos', 'stop', 'context' or 'abort'
 * ```
 */
export async function generateBatch(
  model: NeoXModel,
  requests: readonly BatchGenerateRequest[],
  options: {
    signal?: AbortSignal;
    /**
     * Hooks applied at every step to the packed batch (see `generate`'s `hooks`); select
     * sequences with `{ batch: i }`, i the request's index.
     */
    hooks?: Record<string, Hook | Hook[]>;
  } = {},
): Promise<GenerationResult[]> {
  if (requests.length === 0) throw new ForwardError('generateBatch needs at least one request');
  const hooks = options.hooks ? hookRunner(model, options.hooks) : undefined;
  const sequences = requests.map((r) => new Continuation(r));
  const results: GenerationResult[] = requests.map(() => ({
    tokens: [],
    ids: [],
    text: '',
    reason: 'length',
  }));
  const limit = model.config.maxPositions;
  const cache = model.createCache(sequences.map((s) => s.capacity(limit)));
  const done = requests.map(() => false);
  try {
    let inputs: ArrayLike<number>[] = sequences.map((s) => s.prompt);
    for (;;) {
      const logits = await model.forwardBatch(inputs, { cache, logits: 'last', hooks });
      const lengths = cache.lengths;
      const capacities = cache.capacities;
      const next: number[][] = [];
      for (const [i, sequence] of sequences.entries()) {
        next.push([]);
        if (done[i]) continue;
        if (options.signal?.aborted) {
          results[i]!.reason = 'abort';
          done[i] = true;
          continue;
        }
        const { token, end } = sequence.step(logits[i]!, lengths[i]! >= capacities[i]!);
        const result = results[i]!;
        result.tokens.push(token);
        result.ids.push(token.id);
        result.text += token.text;
        requests[i]!.onToken?.(token);
        if (end) {
          result.reason = end;
          done[i] = true;
        } else {
          next[i]!.push(token.id);
        }
      }
      if (done.every(Boolean)) return results;
      inputs = next;
    }
  } finally {
    cache.dispose();
  }
}

function firstStop(text: string, stop: readonly string[]): number | undefined {
  let first: number | undefined;
  for (const s of stop) {
    const at = s === '' ? -1 : text.indexOf(s);
    if (at !== -1 && (first === undefined || at < first)) first = at;
  }
  return first;
}

/** Length of the longest suffix of `text` that is a proper prefix of a stop string. */
function longestStopPrefix(text: string, stop: readonly string[]): number {
  let longest = 0;
  for (const s of stop) {
    for (let k = Math.min(s.length - 1, text.length); k > longest; k--) {
      if (text.endsWith(s.slice(0, k))) {
        longest = k;
        break;
      }
    }
  }
  return longest;
}
