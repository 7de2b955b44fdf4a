import type { QuantizedCacheEvent, WeightDtype } from '@pythiajs/neox-model';
import type { DtypeChoice } from '../dtype-fit.js';

/**
 * The messages between the page and the model worker. The page sends `{ id, type, request }`;
 * the worker answers with any number of `event`s for that id, then one `result` or `error`.
 */

/** Which files: a Hub, a repository and a revision of it. */
export interface ModelSource {
  hub: string;
  repo: string;
  revision: string;
}

/** A load: which checkpoint, and in which weights. */
export interface LoadRequest extends ModelSource {
  /** `auto`: the widest dtype whose estimate fits `gpuMemory` and the device's limits. */
  dtype: DtypeChoice;
  /** Bytes of GPU memory assumed (browsers do not report it). */
  gpuMemory: number;
}

/** What `prepare` finds out about a revision before anything large is downloaded. */
export interface Prepared {
  /** Where the tokenizer came from: the revision's `tokenizer.json`, or the copy in the site. */
  tokenizer: 'repo' | 'bundled';
  /** Bytes of config and weights, from the file listing. */
  downloadBytes: number;
  /** Every file of the revision is in the browser cache: loading needs no network. */
  cached: boolean;
  /** Why the listing failed (the tokenizer is then the bundled one). */
  problem?: ErrorInfo;
}

/**
 * A revision of a repository that the browser cache loads without the network (config and
 * weights all stored): its commit and the branch names it was last loaded under.
 */
export interface CachedCheckpoint {
  commit: string;
  refs: string[];
}

/** Progress of `load`: bytes per file and in total while downloading, then tensors to the GPU. */
export type LoadEvent =
  | {
      phase: 'download';
      file: string;
      fileLoaded: number;
      fileTotal: number;
      loaded: number;
      total: number;
    }
  | { phase: 'upload'; tensor: string; loaded: number; total: number }
  | QuantizedCacheEvent;

export interface ModelInfo {
  repo: string;
  revision: string;
  commit: string;
  layers: number;
  heads: number;
  hiddenSize: number;
  vocabSize: number;
  /** The device has `shader-f16`; otherwise f16 weights are read as packed pairs of a u32. */
  shaderF16: boolean;
  /** The weights on the GPU: `f16`, or quantized on load (`q8`, `q4`). */
  dtype: WeightDtype;
  /** What the visitor chose: `auto` or the dtype itself. */
  chosen: DtypeChoice;
  /** `estimateMemory`'s total for this dtype, bytes, and whether it is within the memory assumed. */
  estimatedBytes: number;
  fits: boolean;
  adapter: string;
  /** Every file came from the browser cache. */
  fromCache: boolean;
  /**
   * Quantized weights: `cache` when this browser kept them from an earlier load (nothing was
   * quantized), `kept` when they were quantized now and kept for the next load, `load` when
   * quantized now and not kept (no Origin Private File System, or its quota was reached).
   */
  quantized?: 'cache' | 'kept' | 'load';
  seconds: number;
}

export interface GenerateRequest {
  text: string;
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
}

export interface TokenEvent {
  id: number;
  text: string;
  logprob: number;
}

export interface GenerateSummary {
  tokens: number;
  reason: 'eos' | 'stop' | 'length' | 'context' | 'abort';
  /** From the request to the last token, prefill included. */
  seconds: number;
  /** From the request to the first token: prefill and pipeline compilation. */
  firstTokenSeconds: number;
}

export interface Tokenized {
  ids: number[];
  offsets: Array<[number, number]>;
  /** Byte-level spellings (`ĠI`), for tooltips. */
  spellings: string[];
}

/** A token and how likely the model finds it. */
export interface Candidate {
  id: number;
  text: string;
  prob: number;
}

export interface Analysis {
  ids: number[];
  /** Each token as text. */
  tokens: string[];
  /** Per layer: `[heads, dest, src]` row-major, softmaxed (the `hook_pattern` hook). */
  attention: Float32Array[];
  heads: number;
  /**
   * Per row (`hook_embed`, then after each block), at every position: the top token, the
   * likeliest few (`LENS_TOP_K` of analysis.ts, best first), and the probability and rank (ids
   * ranked above it) of the actual next token, null at the last position, which has none.
   */
  lens: Array<{
    name: string;
    top: Candidate[];
    topK: Candidate[][];
    next: Array<{ prob: number; rank: number } | null>;
  }>;
  /** `-log p(token t+1 | tokens ≤ t)`, nats, for t = 0 … n−2. */
  losses: number[];
}

export type AcrossTrainingEvent =
  | {
      kind: 'start';
      revision: string;
      index: number;
      count: number;
      /** The text's tokens, as the loss plot labels them. */
      tokens: string[];
    }
  | ({ kind: 'progress'; revision: string } & LoadEvent)
  | {
      kind: 'row';
      revision: string;
      commit: string;
      /** The five most likely next tokens after the text. */
      top: Candidate[];
      losses: number[];
    }
  | { kind: 'failed'; revision: string; error: ErrorInfo };

/** A live run of one task on the loaded checkpoint. */
export interface EvaluateRequest {
  /** A task of `@pythiajs/evals` (`piqa`, `lambada_openai` …). */
  task: string;
  /** How many of its examples: the first ones in the harness's order (`harnessShuffle`). */
  examples: number;
}

export type EvaluateEvent =
  /** The split is read: `total` documents of its `splitSize` will be scored. */
  | { kind: 'documents'; total: number; splitSize: number; dataset: string }
  /** `done` of `total` documents are scored. */
  | { kind: 'progress'; done: number; total: number };

/** One scored document, as the harness would have scored it. */
export interface EvaluatedDocument {
  /** Its row in the dataset split. */
  row: number;
  /** The context of its first request, cut to a readable length. */
  context: string;
  /** The continuation of each request (the answer choices, or LAMBADA's last word). */
  continuations: string[];
  gold: number;
  /** Per request: the summed log-likelihood of the continuation, and whether it is greedy. */
  results: Array<{ logprob: number; isGreedy: boolean }>;
  /** The task's metric values for this document (`{ acc, acc_norm }`, `{ ppl, acc }` …). */
  values: Record<string, number>;
}

export interface Evaluation {
  repo: string;
  revision: string;
  commit: string;
  task: string;
  /** Documents in the split (the official results score all of them). */
  splitSize: number;
  documents: EvaluatedDocument[];
  /** The harness's aggregates: each metric and its `_stderr`. */
  results: Record<string, number>;
}

/** An error as it crosses the worker boundary: its class name says which kind. */
export interface ErrorInfo {
  name: string;
  message: string;
}

/** Every request: what it sends, the events it streams, and what it resolves to. */
export interface Api {
  prepare: { request: ModelSource; event: never; result: Prepared };
  tokenize: { request: { text: string }; event: never; result: Tokenized };
  cachedCheckpoints: {
    request: { hub: string; repo: string };
    event: never;
    result: CachedCheckpoint[];
  };
  load: { request: LoadRequest; event: LoadEvent; result: ModelInfo };
  generate: { request: GenerateRequest; event: TokenEvent; result: GenerateSummary };
  stop: { request: Record<string, never>; event: never; result: null };
  analyze: { request: { text: string }; event: never; result: Analysis };
  acrossTraining: {
    request: { text: string; revisions: string[] };
    event: AcrossTrainingEvent;
    result: null;
  };
  evaluate: { request: EvaluateRequest; event: EvaluateEvent; result: Evaluation };
}

export type RequestType = keyof Api;

export interface RequestMessage<K extends RequestType = RequestType> {
  id: number;
  type: K;
  request: Api[K]['request'];
}

export type ResponseMessage =
  | { id: number; kind: 'event'; event: unknown }
  | { id: number; kind: 'result'; result: unknown }
  | { id: number; kind: 'error'; error: ErrorInfo };
