// scoreContinuations against an independent float64 GPT-NeoX (test/reference-forward.ts): each
// request's logprob is the float64 log-softmax of the reference's logits summed over its
// continuation, and isGreedy the reference's argmax (lowest id on ties) at every scored row. The
// prefix a group of requests shares runs once (counted through hiddenBatch), and a device with a
// 64 KiB binding limit (chunks, split groups, stepped prefixes) gives the same numbers.
import { openCheckpoint, tensorRange } from '@pythiajs/checkpoint-hub';
import { LocalFolderStore } from '@pythiajs/checkpoint-hub/node';
import { createDevice, type Device } from '@pythiajs/tensor-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ContextOverflowError,
  type ContinuationRequest,
  type ContinuationScore,
  ForwardError,
  InvalidInputError,
  KVCache,
  NeoXModel,
  scoreContinuationGroups,
  scoreContinuations,
  scoreTokens,
  TokenOutOfVocabularyError,
} from '../src/index.js';
import { fixtureFolder } from './golden.js';
import { ReferenceNeoX } from './reference-forward.js';

const FIXTURE = 'tiny-neox-f32-sharded'; // f32 weights, vocab 2048, context 512
const VOCAB = 2048;
/**
 * |logprob − reference| ≤ TOL per scored token: f32 on the GPU against float64 (about 1e-6 on
 * lavapipe).
 */
const TOL = 1e-5;

let device: Device;
let model: NeoXModel;
let reference: ReferenceNeoX;

beforeAll(async () => {
  device = await createDevice();
  model = await NeoXModel.load({ folder: fixtureFolder(FIXTURE) }, { device, dtype: 'f32' });
  reference = await ReferenceNeoX.load(fixtureFolder(FIXTURE));
});
afterAll(() => {
  model?.dispose();
  device?.destroy();
});

/** Deterministic ids. */
function ids(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => (i * 97 + seed * 131 + 7) % VOCAB);
}

/** lm-evaluation-harness's request: the model reads context + continuation less its last id. */
function request(context: readonly number[], continuation: readonly number[]): ContinuationRequest {
  return { input: [...context, ...continuation].slice(0, -1), continuation };
}

// The reference's logits by input, computed once each.
const logitsCache = new Map<string, Float64Array>();
function referenceLogits(input: readonly number[]): Float64Array {
  const key = input.join();
  let logits = logitsCache.get(key);
  if (!logits) {
    logits = reference.run(input).logits;
    logitsCache.set(key, logits);
  }
  return logits;
}

/** Row `row` of `[rows, VOCAB]` logits, cut to the first `vocabSize` columns. */
function rowOf(logits: Float64Array, row: number, vocabSize = VOCAB): Float64Array {
  return logits.subarray(row * VOCAB, row * VOCAB + vocabSize);
}

function logSoftmaxAt(row: ArrayLike<number>, id: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return row[id]! - max - Math.log(sum);
}

/** The lowest id of the largest value. */
function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** The float64 scoring of one request from logits `[input.length, VOCAB]`. */
function scoreFrom(
  logits: Float64Array,
  { input, continuation }: ContinuationRequest,
  vocabSize = VOCAB,
): ContinuationScore {
  const n = continuation.length;
  let logprob = 0;
  let isGreedy = true;
  for (let j = 0; j < n; j++) {
    const row = rowOf(logits, input.length - n + j, vocabSize);
    logprob += logSoftmaxAt(row, continuation[j]!);
    if (argmax(row) !== continuation[j]) isGreedy = false;
  }
  return { logprob, isGreedy };
}

function expected(requests: readonly ContinuationRequest[], vocabSize = VOCAB) {
  return requests.map((r) => scoreFrom(referenceLogits(Array.from(r.input)), r, vocabSize));
}

/** Within TOL per scored token of the reference, and isGreedy exactly. */
function expectScores(
  actual: readonly ContinuationScore[],
  wanted: readonly ContinuationScore[],
  requests: readonly ContinuationRequest[],
) {
  expect(actual).toHaveLength(wanted.length);
  for (const [i, a] of actual.entries()) {
    const n = requests[i]!.continuation.length;
    expect(Math.abs(a.logprob - wanted[i]!.logprob), `request ${i}: logprob`).toBeLessThanOrEqual(
      TOL * n,
    );
    expect(a.isGreedy, `request ${i}: isGreedy`).toBe(wanted[i]!.isGreedy);
  }
}

/** The reference's greedy continuation of `context`, `n` tokens. */
function greedyContinuation(context: readonly number[], n: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < n; j++) {
    const input = [...context, ...out];
    out.push(argmax(rowOf(referenceLogits(input), input.length - 1)));
  }
  return out;
}

/** Counts the tokens and steps `model` forwards (through hiddenBatch) while `body` runs. */
async function counting<T>(
  on: NeoXModel,
  body: () => Promise<T>,
): Promise<{ result: T; tokens: number; steps: number[] }> {
  const spy = vi.spyOn(on, 'hiddenBatch');
  try {
    const result = await body();
    const steps = spy.mock.calls.map(([sequences]) => sequences.reduce((n, s) => n + s.length, 0));
    return { result, tokens: steps.reduce((a, b) => a + b, 0), steps };
  } finally {
    spy.mockRestore();
  }
}

const CONTEXT_A = ids(12, 1);
const CONTEXT_B = ids(9, 2);
const CONTEXT_C = ids(15, 3);

/** A multiple-choice question: choices of 1 to 4 tokens, one of them the greedy continuation. */
function question(context: readonly number[], seed: number): ContinuationRequest[] {
  return [
    request(context, greedyContinuation(context, 3)),
    request(context, ids(1, seed)),
    request(context, ids(4, seed + 1)),
    request(context, ids(2, seed + 2)),
  ];
}

describe('scoreContinuations: multiple-choice groups share their context', () => {
  it('a question of 4 choices (1 to 4 tokens) equals the float64 reference; the context runs once', async () => {
    const requests = question(CONTEXT_A, 10);
    const { result, tokens, steps } = await counting(model, () =>
      scoreContinuations(model, requests),
    );
    expectScores(result, expected(requests), requests);
    expect(result[0]!.isGreedy).toBe(true);
    expect(result.slice(1).every((s) => !s.isGreedy)).toBe(true);
    // The greedy choice is the likeliest per token.
    expect(result[0]!.logprob / 3).toBeGreaterThan(result[3]!.logprob / 2);
    // Σ unique prefixes + Σ suffixes: 12 context ids, then 2 + 0 + 3 + 1 ids of the choices.
    expect(tokens).toBe(12 + 2 + 0 + 3 + 1);
    expect(steps).toEqual([12, 6]);
  });

  it('one-token choices (answer letters) take no cache slot of their own: the prefix row scores them', async () => {
    const choices = [[11], [12], [13], [14, 15, 16], [17]];
    const requests = choices.map((c) => request(CONTEXT_B, c));
    const create = vi.spyOn(KVCache, 'create');
    try {
      const { result, tokens } = await counting(model, () => scoreContinuations(model, requests));
      expectScores(result, expected(requests), requests);
      expect(tokens).toBe(CONTEXT_B.length + 2);
      // The first choice's slot runs the context; only the 3-token choice needs one besides.
      expect(create.mock.calls.map((call) => call[2])).toEqual([
        [CONTEXT_B.length, CONTEXT_B.length + 2],
      ]);
    } finally {
      create.mockRestore();
    }
  });

  it('interleaved questions with different contexts, and a prefix that is another request’s whole input', async () => {
    const qa = question(CONTEXT_A, 20);
    const qb = question(CONTEXT_B, 30);
    // C's first request scores one id after its whole input; the second shares that as prefix.
    const c1: ContinuationRequest = { input: CONTEXT_C, continuation: [40] };
    const c2 = request(CONTEXT_C, [41, 42, 43]);
    const lone = request(ids(7, 4), [5, 6]);
    const requests = [qa[0]!, qb[0]!, c1, qa[1]!, lone, qb[1]!, qa[2]!, c2, qb[2]!, qa[3]!, qb[3]!];
    const { result, tokens } = await counting(model, () => scoreContinuations(model, requests));
    expectScores(result, expected(requests), requests);
    const unique = CONTEXT_A.length + CONTEXT_B.length + CONTEXT_C.length + 7;
    const suffixes = requests.reduce((n, r) => n + r.continuation.length - 1, 0);
    expect(tokens).toBe(unique + suffixes);
    expect(tokens).toBeLessThan(requests.reduce((n, r) => n + r.input.length, 0));

    // The same numbers as each request alone, and as scoreTokens on input + last id.
    for (const [i, r] of requests.entries()) {
      const [alone] = await scoreContinuations(model, [r]);
      expect(Math.abs(alone!.logprob - result[i]!.logprob)).toBeLessThanOrEqual(1e-5);
      expect(alone!.isGreedy).toBe(result[i]!.isGreedy);
      const n = r.continuation.length;
      const [tokenScores] = await scoreTokens(model, [
        [...Array.from(r.input), r.continuation[n - 1]!],
      ]);
      const perToken = tokenScores!.logprob.subarray(r.input.length - n);
      expect(perToken).toHaveLength(n);
      const sum = perToken.reduce((s, x) => s + x, 0);
      expect(Math.abs(sum - result[i]!.logprob)).toBeLessThanOrEqual(1e-5);
      expect(
        Array.from(tokenScores!.argmax.subarray(r.input.length - n)).join() ===
          Array.from(r.continuation).join(),
      ).toBe(result[i]!.isGreedy);
    }
  });

  it('scoreContinuationGroups: documents in batches give each group the scores it gets alone, with progress per call', async () => {
    const groups = [
      question(CONTEXT_A, 20),
      [request(ids(7, 4), [5, 6])],
      question(CONTEXT_B, 30),
      [{ input: CONTEXT_C, continuation: [40] }, request(CONTEXT_C, [41, 42, 43])],
      question(CONTEXT_A, 50),
    ];
    const progress: number[] = [];
    const scored = await scoreContinuationGroups(model, groups, {
      batch: 2,
      onProgress: (done) => progress.push(done),
    });
    expect(progress).toEqual([2, 4, 5]);
    expect(scored.map((g) => g.length)).toEqual(groups.map((g) => g.length));
    for (const [i, group] of groups.entries()) {
      expectScores(scored[i]!, expected(group), group);
    }
    await expect(scoreContinuationGroups(model, groups, { batch: 0 })).rejects.toThrow(
      /batch must be a positive integer, got 0/,
    );
    expect(await scoreContinuationGroups(model, [])).toEqual([]);
  });

  it('vocabSize: the softmax and argmax over the first columns only', async () => {
    const context = CONTEXT_B;
    // The full row's argmax a; below vocabSize = a the best is another id b < a.
    const a = argmax(rowOf(referenceLogits(context), context.length - 1));
    expect(a).toBeGreaterThan(0);
    const vocabSize = a;
    const b = argmax(rowOf(referenceLogits(context), context.length - 1, vocabSize));
    const b2 = argmax(rowOf(referenceLogits([...context, b]), context.length, vocabSize));
    const requests = [request(context, [b, b2]), request(context, [b]), request(context, [0, 1])];
    const restricted = await scoreContinuations(model, requests, { vocabSize });
    const full = await scoreContinuations(model, requests);
    expectScores(restricted, expected(requests, vocabSize), requests);
    expectScores(full, expected(requests), requests);
    expect(restricted.map((s) => s.isGreedy)).toEqual([true, true, false]);
    expect(full[1]!.isGreedy).toBe(false); // a, not b, is the full row's argmax
    for (const [i, s] of restricted.entries()) {
      expect(s.logprob - full[i]!.logprob).toBeGreaterThan(1e-3); // fewer columns share p
    }
    // The whole row as an explicit vocabSize is the default.
    const whole = await scoreContinuations(model, requests, { vocabSize: VOCAB });
    expect(whole).toEqual(full);
  });

  it('ties: the argmax is the lowest tied id (embed_out rows copied onto others)', async () => {
    const context = CONTEXT_A;
    const a = argmax(rowOf(referenceLogits(context), context.length - 1));
    expect(a).toBeGreaterThan(0);
    const [low, high] = [0, VOCAB - 1].filter((id) => id !== a) as [number, number];
    // Rows low and high of embed_out become row a: their logits equal a's in every row.
    const base = await openCheckpoint(fixtureFolder(FIXTURE), 'local', new LocalFolderStore());
    const d = model.config.hiddenSize;
    const tied = await NeoXModel.fromCheckpoint(
      {
        ...base,
        expect: (name, shape) => base.expect(name, shape),
        close: () => base.close(),
        read: async (name, into, range) => {
          const bytes = await base.read(name);
          let whole = bytes;
          if (name === 'embed_out.weight') {
            const w = new Float32Array(bytes.slice().buffer);
            for (const id of [low, high]) w.copyWithin(id * d, a * d, (a + 1) * d);
            whole = new Uint8Array(w.buffer);
          }
          const { offset, length } = tensorRange(name, whole.length, range);
          const out = whole.subarray(offset, offset + length);
          if (!into) return out;
          into.set(out);
          return into.subarray(0, out.length);
        },
      },
      { device, dtype: 'f32' },
    );
    try {
      const requests = [request(context, [a]), request(context, [low]), request(context, [high])];
      const scores = await scoreContinuations(tied, requests);
      // The reference with the same copies: columns low and high equal column a.
      const logits = Float64Array.from(referenceLogits(context));
      for (let r = 0; r < context.length; r++) {
        for (const id of [low, high]) logits[r * VOCAB + id] = logits[r * VOCAB + a]!;
      }
      expectScores(
        scores,
        requests.map((q) => scoreFrom(logits, q)),
        requests,
      );
      // Three equal logits at the top: equal logprobs, and only the lowest id, low, is greedy.
      expect(scores.map((s) => s.isGreedy)).toEqual([false, true, false]);
      expect(scores[1]!.logprob).toBe(scores[0]!.logprob);
      expect(scores[2]!.logprob).toBe(scores[0]!.logprob);
    } finally {
      tied.dispose();
      await base.close();
    }
  });

  it('no requests, no work', async () => {
    const { result, tokens } = await counting(model, () => scoreContinuations(model, []));
    expect(result).toEqual([]);
    expect(tokens).toBe(0);
  });
});

describe('scoreContinuations on a device with a 64 KiB binding limit', () => {
  // 6 heads × 16 dims × 4 bytes a row: 170 cache rows per chunk; steps of 42 tokens.
  let small: Device;
  let constrained: NeoXModel;
  beforeAll(async () => {
    small = await createDevice({ maxBindingBytes: 65536 });
    constrained = await NeoXModel.load(
      { folder: fixtureFolder(FIXTURE) },
      { device: small, dtype: 'f32' },
    );
  });
  afterAll(() => {
    constrained?.dispose();
    small?.destroy();
  });

  it('chunks many requests, splits a group too large for one chunk and steps a long input, with the same numbers', async () => {
    // A: 7 choices of 1 to 4 ids after a 30-token context, 219 rows in all: more than a chunk.
    const contextA = ids(30, 5);
    const groupA = Array.from({ length: 7 }, (_, k) => request(contextA, ids(1 + (k % 4), 40 + k)));
    // Questions of short contexts, and one input longer than a step (prefix of 100 ids).
    const questions = [6, 8, 10, 7, 9].flatMap((n, q) => question(ids(n, 50 + q), 60 + 5 * q));
    const long = request(ids(100, 6), [3, 4, 5]);
    const requests = [
      groupA[0]!,
      ...questions.slice(0, 6),
      long,
      ...groupA.slice(1),
      ...questions.slice(6),
    ];

    const onSmall = await counting(constrained, () => scoreContinuations(constrained, requests));
    const unconstrained = await counting(model, () => scoreContinuations(model, requests));
    expectScores(onSmall.result, expected(requests), requests);
    for (const [i, s] of onSmall.result.entries()) {
      expect(
        Math.abs(s.logprob - unconstrained.result[i]!.logprob),
        `request ${i}`,
      ).toBeLessThanOrEqual(1e-5);
      expect(s.isGreedy).toBe(unconstrained.result[i]!.isGreedy);
    }
    // Unconstrained: one chunk, the prefix and the suffix step. On the small device every step
    // fits 42 tokens, the long prefix takes several, and group A's prefix runs twice.
    expect(unconstrained.steps).toHaveLength(2);
    expect(Math.max(...onSmall.steps)).toBeLessThanOrEqual(42);
    expect(onSmall.tokens).toBe(unconstrained.tokens + contextA.length);
  });

  it('refuses an input longer than a KV cache on this device holds, before any work', async () => {
    const { result, tokens } = await counting(constrained, () =>
      scoreContinuations(constrained, [request(ids(10, 1), [1]), request(ids(200, 1), [1])]).catch(
        (error: unknown) => error,
      ),
    );
    expect(result).toBeInstanceOf(ForwardError);
    expect(String(result)).toMatch(
      /request 1: an input of 200 tokens needs a KV cache of more rows than this device's largest binding \(65536 bytes\) holds \(170\)/,
    );
    expect(tokens).toBe(0);
  });
});

describe('scoreContinuations refuses bad requests before any work', () => {
  const good = request(ids(5, 1), [1, 2]);
  const cases: Array<
    [string, ContinuationRequest[], object, new (...args: never[]) => Error, RegExp]
  > = [
    [
      'an empty continuation',
      [good, { input: [1, 2], continuation: [] }],
      {},
      InvalidInputError,
      /request 1: the continuation is empty/,
    ],
    [
      'a continuation longer than the input',
      [{ input: [1, 2], continuation: [3, 4, 5] }],
      {},
      InvalidInputError,
      /request 0: the continuation has 3 tokens but the input only 2/,
    ],
    [
      'an input longer than the context',
      [good, request(ids(513, 1), [1])],
      {},
      ContextOverflowError,
      /request 1: input: the input is 513 tokens but the model reads at most 512/,
    ],
    [
      'an input id outside the vocabulary',
      [{ input: [1, 2048, 3], continuation: [4] }],
      {},
      TokenOutOfVocabularyError,
      /request 0: input: token id 2048 at position 1 is outside the model's vocabulary of 2048/,
    ],
    [
      'a continuation id outside the vocabulary',
      [good, { input: [1, 2], continuation: [-1] }],
      {},
      TokenOutOfVocabularyError,
      /request 1: continuation: token id -1 at position 0/,
    ],
    [
      'a continuation id at or above vocabSize',
      [{ input: [1, 2, 3], continuation: [7, 1500] }],
      { vocabSize: 1000 },
      InvalidInputError,
      /request 0: continuation id 1500 at position 1 is not below vocabSize 1000/,
    ],
    [
      'vocabSize 0',
      [good],
      { vocabSize: 0 },
      ForwardError,
      /vocabSize must be an integer from 1 to the model's 2048 logits, got 0/,
    ],
    ['vocabSize above the logits', [good], { vocabSize: 2049 }, ForwardError, /got 2049/],
    ['a fractional vocabSize', [good], { vocabSize: 2.5 }, ForwardError, /got 2.5/],
  ];
  for (const [what, requests, options, type, message] of cases) {
    it(what, async () => {
      const { result } = await counting(model, () =>
        scoreContinuations(model, requests, options).catch((error: unknown) => error),
      );
      expect(result).toBeInstanceOf(type);
      expect(String(result)).toMatch(message);
    });
  }

  it('runs nothing for a batch with one bad request', async () => {
    const { tokens } = await counting(model, () =>
      scoreContinuations(model, [good, { input: [1], continuation: [] }]).catch(() => undefined),
    );
    expect(tokens).toBe(0);
  });
});
