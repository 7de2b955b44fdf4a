import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Device,
  f32ArrayToF16Bits,
  ROW_SCORE_FIELDS,
  type RowScores,
  readRowScores,
  ShapeError,
  scoreRows,
  unpackRowScores,
} from '../src/index.js';
import { scoreRowsReference } from '../src/reference/index.js';
import { testDevice } from './gpu.js';
import { expectClose, randomFloats } from './numbers.js';

// Pythia's padded logits width and its tokenizer's vocabulary.
const V = 50304;
const VOCAB = 50277;

interface Expected {
  targetLogprob: number[];
  logsumexp: number[];
  entropy: number[];
  rank: number[];
  argmax: number[];
  maxLogprob: number[];
}

/**
 * The scores in float64, written independently of the reference: a log-softmax of the whole row
 * (as the sampler's `logSoftmax`), the entropy as −Σ exp(lp)·lp, the rank by counting.
 */
function float64Scores(
  logits: Float32Array,
  cols: number,
  targets?: ArrayLike<number>,
  width = cols,
): Expected {
  const e: Expected = {
    targetLogprob: [],
    logsumexp: [],
    entropy: [],
    rank: [],
    argmax: [],
    maxLogprob: [],
  };
  for (let r = 0; r < logits.length / cols; r++) {
    const row = logits.subarray(r * cols, r * cols + width);
    const max = row.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
    let sum = 0;
    for (const x of row) sum += Math.exp(x - max);
    const lse = max + Math.log(sum);
    const logprob = (i: number) => row[i]! - max - Math.log(sum);
    let entropy = 0;
    for (let i = 0; i < width; i++) {
      const lp = logprob(i);
      if (lp > Number.NEGATIVE_INFINITY) entropy -= Math.exp(lp) * lp;
    }
    const argmax = row.indexOf(max);
    e.logsumexp.push(lse);
    e.entropy.push(entropy);
    e.argmax.push(argmax);
    e.maxLogprob.push(logprob(argmax));
    if (targets) {
      const t = targets[r]!;
      e.targetLogprob.push(logprob(t));
      e.rank.push(row.filter((x) => x > row[t]!).length);
    }
  }
  return e;
}

/** The reference's packed output as the same named arrays. */
function fromReference(packed: Float32Array): Expected {
  const s = unpackRowScores(packed);
  return {
    targetLogprob: Array.from(s.targetLogprob ?? []),
    logsumexp: Array.from(s.logsumexp),
    entropy: Array.from(s.entropy),
    rank: Array.from(s.rank ?? []),
    argmax: Array.from(s.argmax),
    maxLogprob: Array.from(s.maxLogprob),
  };
}

/**
 * Log-probabilities, entropy and (unless `lseRtol` says otherwise) logsumexp within 1e-4 of
 * `expected`; argmax and rank exactly.
 */
function expectScores(actual: RowScores, expected: Expected, lseRtol = 0): void {
  expectClose(actual.targetLogprob ?? [], expected.targetLogprob, 0, 1e-4);
  expectClose(actual.logsumexp, expected.logsumexp, lseRtol, 1e-4);
  expectClose(actual.entropy, expected.entropy, 0, 1e-4);
  expectClose(actual.maxLogprob, expected.maxLogprob, 0, 1e-4);
  expect(Array.from(actual.argmax)).toEqual(expected.argmax);
  expect(Array.from(actual.rank ?? [])).toEqual(expected.rank);
}

describe('scoreRows (per-row logsumexp, log p(target), entropy, rank, argmax on the GPU)', () => {
  let device: Device;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  /** GPU scores of `logits` [rows, cols] checked against float64 and the CPU reference. */
  async function check(
    logits: Float32Array,
    cols: number,
    targets: Uint32Array,
    options: { vocabSize?: number; lseRtol?: number; targetsOnGpu?: boolean } = {},
  ): Promise<RowScores> {
    const { vocabSize, lseRtol, targetsOnGpu } = options;
    const x = device.tensor(logits, [logits.length / cols, cols]);
    const out = scoreRows(x, targetsOnGpu ? device.tensor(targets) : targets, { vocabSize });
    expect(out.shape).toEqual([logits.length / cols, 6]);
    const scores = await readRowScores(out);
    expectScores(scores, float64Scores(logits, cols, targets, vocabSize), lseRtol);
    expectScores(
      scores,
      fromReference(scoreRowsReference(logits, cols, targets, { vocabSize })),
      lseRtol,
    );
    return scores;
  }

  it('scores a small row exactly as the documented field order says', async () => {
    const logits = new Float32Array([0, Math.log(3), -Infinity, Math.log(3)]);
    const out = scoreRows(device.tensor(logits, [1, 4]), new Uint32Array([0]));
    const raw = await out.read();
    const p = [1 / 7, 3 / 7, 3 / 7];
    const byName = Object.fromEntries(ROW_SCORE_FIELDS.map((name, i) => [name, raw[i]!]));
    expect(byName.targetLogprob).toBeCloseTo(Math.log(1 / 7), 6);
    expect(byName.logsumexp).toBeCloseTo(Math.log(7), 6);
    expect(byName.entropy).toBeCloseTo(-p.reduce((a, q) => a + q * Math.log(q), 0), 6);
    expect(byName.rank).toBe(2);
    expect(byName.argmax).toBe(1); // tied with id 3: the lower id
    expect(byName.maxLogprob).toBeCloseTo(Math.log(3 / 7), 6);
  });

  it('matches float64 on random 50304-wide rows with logits in ±30 (targets as Uint32Array)', async () => {
    const rows = 4;
    const logits = randomFloats(rows * V, 1, -30, 30);
    // Row 3 flatter (±3), so its entropy is near log V and its target ranks deep.
    logits.subarray(3 * V).set(randomFloats(V, 2, -3, 3));
    const argmax0 = float64Scores(logits, V).argmax[0]!;
    const targets = new Uint32Array([argmax0, 17, V - 1, 25000]);
    const scores = await check(logits, V, targets);
    expect(scores.rank![0]).toBe(0);
    expect(scores.entropy[3]).toBeGreaterThan(Math.log(V) - 1);
  });

  it('matches float64 with targets already on the GPU', async () => {
    const rows = 3;
    const logits = randomFloats(rows * V, 3, -30, 30);
    await check(logits, V, new Uint32Array([5, 50000, 31337]), { targetsOnGpu: true });
  });

  it('breaks argmax ties toward the lowest id; rank counts only strictly greater logits', async () => {
    const logits = randomFloats(2 * V, 4, -10, 4);
    // Row 0: the maximum 5 at ids 7, 100 and 40000; the target is the tied id 100.
    for (const id of [7, 100, 40000]) logits[id] = 5;
    // Row 1: logits quantised to 8 levels, so the target shares its value with ~6000 ids.
    logits.subarray(V).set(randomFloats(V, 5, 0, 8).map(Math.floor));
    const target1 = logits.subarray(V).indexOf(5);
    const scores = await check(logits, V, new Uint32Array([100, target1]));
    expect(scores.argmax[0]).toBe(7);
    expect(scores.rank![0]).toBe(0);
    expect(scores.rank![1]).toBe(logits.subarray(V).filter((x) => x > 5).length);
    expect(scores.argmax[1]).toBe(logits.subarray(V).indexOf(7));
  });

  it('does not overflow or lose digits with logits around ±1e4, nor with tiny ones', async () => {
    const logits = new Float32Array(3 * V);
    const spread = randomFloats(3 * V, 6, -30, 30);
    for (let i = 0; i < V; i++) {
      logits[i] = 1e4 + spread[i]!;
      logits[V + i] = -1e4 + spread[V + i]!;
      logits[2 * V + i] = spread[2 * V + i]! * 1e-5; // near uniform
    }
    // An f32 logsumexp near 1e4 has an ulp of 1e-3: it can only be checked to its own rounding.
    // The log-probabilities are formed against the row max and stay within 1e-4.
    const scores = await check(logits, V, new Uint32Array([0, 1, 2]), { lseRtol: 2 ** -24 });
    expect(scores.entropy[2]).toBeCloseTo(Math.log(V), 4);
  });

  it('skips masked (−∞) logits', async () => {
    const cols = 1000;
    const logits = randomFloats(2 * cols, 7, -30, 30);
    for (let i = 0; i < 2 * cols; i += 3) logits[i] = Number.NEGATIVE_INFINITY;
    await check(logits, cols, new Uint32Array([1, 1])); // ids 1 and 1001 are unmasked
    // A masked target: log p = −∞, and every unmasked id ranks above it.
    const masked = await readRowScores(
      scoreRows(device.tensor(logits, [2, cols]), new Uint32Array([0, 2])), // ids 0 and 1002
    );
    expect(Array.from(masked.targetLogprob!)).toEqual([-Infinity, -Infinity]);
    expect(Array.from(masked.rank!)).toEqual([
      logits.subarray(0, cols).filter((x) => x > -Infinity).length,
      logits.subarray(cols).filter((x) => x > -Infinity).length,
    ]);
  });

  it('restricts the softmax to the first vocabSize columns', async () => {
    const rows = 2;
    const logits = randomFloats(rows * V, 8, -30, 30);
    // A padding id with the largest logit would be the argmax of the full row.
    logits[VOCAB + 3] = 100;
    logits[V + V - 1] = 100;
    const scores = await check(logits, V, new Uint32Array([0, VOCAB - 1]), { vocabSize: VOCAB });
    expect(scores.argmax.every((id) => id < VOCAB)).toBe(true);
    // The default is the whole row, padding included (as Hugging Face scores).
    const full = await readRowScores(scoreRows(device.tensor(logits, [rows, V])));
    expect(Array.from(full.argmax)).toEqual([VOCAB + 3, V - 1]);
  });

  it('keeps leading dimensions, handles rows narrower than the workgroup and no rows', async () => {
    const logits = randomFloats(2 * 3 * 5, 9, -5, 5);
    const targets = new Uint32Array([0, 1, 2, 3, 4, 0]);
    const out = scoreRows(device.tensor(logits, [2, 3, 5]), targets);
    expect(out.shape).toEqual([2, 3, 6]);
    expectScores(await readRowScores(out), float64Scores(logits, 5, targets));
    expect(scoreRows(device.zeros([0, 5])).shape).toEqual([0, 6]);
    expect(scoreRows(device.zeros([5])).shape).toEqual([6]);
  });

  it('without targets leaves log p(target) and rank out (NaN in the raw output)', async () => {
    const logits = randomFloats(2 * 300, 10, -30, 30);
    const out = scoreRows(device.tensor(logits, [2, 300]));
    const raw = await out.read();
    expect([raw[0], raw[3], raw[6], raw[9]].every(Number.isNaN)).toBe(true);
    const scores = unpackRowScores(raw);
    expect(scores.targetLogprob).toBeUndefined();
    expect(scores.rank).toBeUndefined();
    expectScores(scores, { ...float64Scores(logits, 300), targetLogprob: [], rank: [] });
  });

  it('rejects out-of-range targets: Uint32Array before the GPU runs, tensors on read', async () => {
    const x = device.tensor(randomFloats(2 * V, 11), [2, V]);
    expect(() => scoreRows(x, new Uint32Array([0, V]))).toThrow(ShapeError);
    expect(() => scoreRows(x, new Uint32Array([0, V]))).toThrow(/targets\[1\] = 50304/);
    expect(() => scoreRows(x, new Uint32Array([VOCAB, 0]), { vocabSize: VOCAB })).toThrow(
      /targets\[0\] = 50277 is not below vocabSize 50277/,
    );
    // On the GPU the id cannot be checked before the kernel: its row reads back as an error.
    const onGpu = scoreRows(x, device.tensor(new Uint32Array([1, VOCAB])), { vocabSize: VOCAB });
    expect((await onGpu.read())[6 + 3]).toBe(-1);
    await expect(readRowScores(onGpu)).rejects.toThrow(/row 1's target id is not below/);
    const huge = device.tensor(new Uint32Array([0xffffffff, 0]));
    await expect(readRowScores(scoreRows(x, huge))).rejects.toThrow(ShapeError);
  });

  it('rejects targets that are not one per row, wrong dtypes and bad vocabSize', () => {
    const x = device.tensor(randomFloats(2 * 8, 12), [2, 8]);
    expect(() => scoreRows(x, new Uint32Array([0]))).toThrow(/one id per row .* \(2\), got 1/);
    expect(() => scoreRows(x, device.zeros([3], 'u32'))).toThrow(/one id per row/);
    expect(() => scoreRows(x, device.zeros([2], 'i32') as never)).toThrow(/targets must be u32/);
    expect(() => scoreRows(x, new Int32Array(2) as never)).toThrow(
      /targets must be a Uint32Array or a u32 tensor, got Int32Array/,
    );
    const f16 = device.tensor(f32ArrayToF16Bits(new Float32Array(16)), [2, 8]);
    expect(() => scoreRows(f16 as never)).toThrow(/logits must be f32/);
    expect(() => scoreRows(device.zeros([2, 0]))).toThrow(/empty rows/);
    for (const vocabSize of [0, 9, 2.5]) {
      expect(() => scoreRows(x, undefined, { vocabSize })).toThrow(/vocabSize must be an integer/);
    }
    expect(() => unpackRowScores(new Float32Array(7))).toThrow(ShapeError);
  });
});

// Logits above the binding limit are stored in row chunks; scoreRows takes one dispatch per chunk.
describe('scoreRows over logits stored in row chunks', () => {
  let device: Device;
  beforeAll(async () => {
    device = await testDevice({ maxBindingBytes: 4096 });
  });
  afterAll(() => device.destroy());

  it('scores every chunk into its own rows, targets indexed globally', async () => {
    const [rows, cols] = [10, 300]; // 1200-byte rows: 3 per 4 KiB chunk → 4 chunks
    const logits = randomFloats(rows * cols, 13, -30, 30);
    const targets = Uint32Array.from({ length: rows }, (_, r) => (r * 37) % 290);
    const x = device.tensor(logits, [rows, cols]);
    expect(x.chunks.length).toBe(4);
    const scores = await readRowScores(scoreRows(x, targets, { vocabSize: 290 }));
    expectScores(scores, float64Scores(logits, cols, targets, 290));
    // [5, 2, 150]: chunks split the first dimension, 2 scoring rows per index.
    const x3 = device.tensor(logits.subarray(0, 1500), [5, 2, 150]);
    expect(x3.chunks.length).toBeGreaterThan(1);
    const t3 = targets.map((t) => t % 150);
    const out3 = scoreRows(x3, device.tensor(t3, [5, 2]));
    expect(out3.shape).toEqual([5, 2, 6]);
    expectScores(await readRowScores(out3), float64Scores(logits.subarray(0, 1500), 150, t3));
  });
});
