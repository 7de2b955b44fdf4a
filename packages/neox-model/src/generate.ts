import { createSampler, type SamplerOptions } from '@pythiajs/sampler';
import { ForwardError } from './errors.js';
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
  const { tokenizer, maxNewTokens = 32, stop = [], signal } = options;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) {
    throw new ForwardError(`maxNewTokens must be a positive integer, got ${maxNewTokens}`);
  }
  let prompt: ArrayLike<number>;
  if (options.ids !== undefined) prompt = options.ids;
  else if (options.text !== undefined && tokenizer) prompt = tokenizer.encode(options.text);
  else throw new ForwardError('generate needs ids, or text and a tokenizer');
  if (prompt.length === 0) throw new ForwardError('the prompt is empty; give at least one token');
  const eos = options.eosTokenId === undefined ? (tokenizer?.eosTokenId ?? 0) : options.eosTokenId;
  const mask = (options.maskUnknownTokens ?? tokenizer !== undefined) && tokenizer !== undefined;
  const sample = createSampler(mask ? { ...options, vocabSize: tokenizer.vocabSize } : options);
  // Prompt and generated ids: the history repetition penalties and n-gram blocking look at.
  const history = Array.from(prompt);
  const decoder = tokenizer?.createStreamDecoder({ skipSpecialTokens: true });
  const cache = options.cache ?? model.createCache();
  // Text that might be the beginning of a stop string is held back until it is not.
  let pending = '';

  try {
    let logits = await model.forward(prompt, { cache, logits: 'last' });
    for (let n = 0; ; n++) {
      if (signal?.aborted) return 'abort';
      const { id, logprob } = sample(logits, { tokens: history, generatedFrom: prompt.length });
      history.push(id);
      const last = n + 1 === maxNewTokens || cache.length >= cache.capacity || id === eos;
      let text = decoder?.push(id) ?? '';
      if (last && decoder) text += decoder.flush();
      pending += text;
      const hit = firstStop(pending, stop);
      if (hit !== undefined) {
        yield { id, text: pending.slice(0, hit), logprob };
        return 'stop';
      }
      const safe = last ? pending.length : pending.length - longestStopPrefix(pending, stop);
      yield { id, text: pending.slice(0, safe), logprob };
      pending = pending.slice(safe);
      if (id === eos) return 'eos';
      if (n + 1 === maxNewTokens) return 'length';
      if (cache.length >= cache.capacity) return 'context';
      logits = await model.forward([id], { cache, logits: 'last' });
    }
  } finally {
    if (!options.cache) cache.dispose();
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
