import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Tokenizer } from '@pythiajs/tokenizer';
import { describe, expect, it } from 'vitest';
import {
  HARNESS_LOGIT_COLUMNS,
  LoglikelihoodRequestError,
  loglikelihoodTokens,
  scoreRows,
  windowOf,
} from '../src/index.js';

const tokenizer = Tokenizer.fromJSON(
  await readFile(
    createRequire(import.meta.url).resolve('@pythiajs/tokenizer/gpt-neox-20b.json'),
    'utf8',
  ),
);

describe('loglikelihoodTokens (lm-evaluation-harness v0.3.0 windows)', () => {
  it('encodes context and continuation separately and scores the continuation with the last rows', () => {
    const t = loglikelihoodTokens(tokenizer, 'Question: What is 2+2?\nAnswer:', ' 4', 2048);
    const context = tokenizer.encode('Question: What is 2+2?\nAnswer:');
    expect(t.context).toEqual(context);
    expect(t.continuation).toEqual([577]);
    // The input is context + continuation less its last id; its last row predicts " 4".
    expect(t.input).toEqual(context);
    expect(t.positions).toEqual([context.length - 1]);
    expect(t.truncated).toBe(0);
  });

  it('differs from encoding the pair and splitting it (later harness versions) where BPE merges across', () => {
    // "pre" + "dict": separately `pre` `dict`; joined, "predict" is one token, so splitting the
    // joined encoding after the context's own ids would leave the continuation no ids at all.
    const t = loglikelihoodTokens(tokenizer, 'pre', 'dict', 2048);
    expect(t.context).toEqual(tokenizer.encode('pre'));
    expect(t.continuation).toEqual(tokenizer.encode('dict'));
    expect(tokenizer.encode('predict')).toHaveLength(1);
    expect(tokenizer.encode('predict')).not.toEqual([...t.context, ...t.continuation]);
    // A context ending in a space keeps its lone " " token here; the later _encode_pair moved the
    // space into the continuation and scored " Paris".
    const paris = loglikelihoodTokens(tokenizer, 'The capital of France is ', 'Paris', 2048);
    expect(paris.context.at(-1)).toBe(tokenizer.encode(' ')[0]);
    expect(paris.continuation).toEqual(tokenizer.encode('Paris'));
    expect(paris.continuation).not.toEqual(tokenizer.encode(' Paris'));
    expect(tokenizer.encode('The capital of France is Paris')).not.toEqual([
      ...paris.context,
      ...paris.continuation,
    ]);
  });

  it('poses an empty context as the end-of-text token', () => {
    const t = loglikelihoodTokens(tokenizer, '', ' word', 2048);
    expect(t.context).toEqual([0]);
    expect(t.input).toEqual([0]);
    expect(t.positions).toEqual([0]);
    expect(() =>
      loglikelihoodTokens({ encode: (s) => tokenizer.encode(s) }, '', ' word', 2048),
    ).toThrow(LoglikelihoodRequestError);
  });

  it('truncates context + continuation from the left to maxLength + 1, then drops the last id', () => {
    // 6 context ids + 3 continuation ids, maxLength 5: keep the last 6 ids, run on the first 5.
    const t = windowOf([10, 11, 12, 13, 14, 15], [20, 21, 22], 5);
    expect(t.input).toEqual([13, 14, 15, 20, 21]);
    expect(t.truncated).toBe(3);
    // Row 2 (after 15) predicts 20, row 3 predicts 21, row 4 predicts 22.
    expect(t.positions).toEqual([2, 3, 4]);
    // Exactly maxLength + 1 ids: nothing is cut.
    const fits = windowOf([1, 2], [3, 4], 3);
    expect(fits).toMatchObject({ input: [1, 2, 3], positions: [1, 2], truncated: 0 });
    // A continuation as long as the context window: only its first id's context survives.
    const full = windowOf([1, 2, 3], [4, 5, 6], 3);
    expect(full).toMatchObject({ input: [3, 4, 5], positions: [0, 1, 2], truncated: 2 });
  });

  it('refuses what the harness asserted against', () => {
    expect(() => windowOf([1], [], 4)).toThrow(LoglikelihoodRequestError);
    expect(() => windowOf([1], [1, 2, 3, 4, 5], 4)).toThrow(/more than the model/);
    expect(() => windowOf([], [1], 4)).toThrow(LoglikelihoodRequestError);
    expect(() => loglikelihoodTokens(tokenizer, 'a', ' b', 0)).toThrow(RangeError);
  });
});

describe('scoreRows', () => {
  // An independent float64 log-softmax for the expectations.
  const logSoftmaxAt = (row: number[], id: number, width = row.length) => {
    const used = row.slice(0, width);
    const max = Math.max(...used);
    return row[id]! - max - Math.log(used.reduce((s, v) => s + Math.exp(v - max), 0));
  };

  it('sums the continuation ids’ log-softmax and checks each row’s first maximum', () => {
    const rows = [
      [1, 3, 2, 0.5],
      [0, 0, 4, 4],
    ];
    const r = scoreRows({ continuation: [1, 2] }, rows);
    expect(r.logprob).toBeCloseTo(logSoftmaxAt(rows[0]!, 1) + logSoftmaxAt(rows[1]!, 2), 14);
    // Row 2's maximum is tied between ids 2 and 3; the first (2) is the argmax: greedy.
    expect(r.isGreedy).toBe(true);
    expect(scoreRows({ continuation: [1, 3] }, rows).isGreedy).toBe(false);
  });

  it('takes the log-softmax over the first `columns` entries, as the v0.3.0 hf-causal model did', () => {
    expect(HARNESS_LOGIT_COLUMNS).toBe(50257);
    const row = [2, 1, 0, 9];
    const narrow = scoreRows({ continuation: [0] }, [row], { columns: 3 });
    expect(narrow.logprob).toBeCloseTo(logSoftmaxAt(row, 0, 3), 14);
    expect(narrow.isGreedy).toBe(true);
    expect(scoreRows({ continuation: [0] }, [row]).isGreedy).toBe(false);
    expect(() => scoreRows({ continuation: [3] }, [row], { columns: 3 })).toThrow(RangeError);
    expect(() => scoreRows({ continuation: [0, 1] }, [row])).toThrow(RangeError);
  });
});
