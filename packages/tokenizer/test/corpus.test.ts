import { beforeAll, describe, expect, it } from 'vitest';
import { corpus, corpusBytes } from './corpus.js';
import { neox, reference } from './fixtures.js';

const docs = corpus();

/** Hugging Face reports offsets in code points; ours are UTF-16 indices. */
function toUtf16Offsets(text: string, offsets: number[][]): Array<[number, number]> {
  const unitOfCodePoint: number[] = [];
  for (let i = 0; i < text.length; ) {
    unitOfCodePoint.push(i);
    i += text.codePointAt(i)! > 0xffff ? 2 : 1;
  }
  unitOfCodePoint.push(text.length);
  return offsets.map(([s, e]) => [unitOfCodePoint[s!]!, unitOfCodePoint[e!]!]);
}

describe('a 5 MB corpus of prose, code, 190+ languages and generated edge cases', () => {
  const expected: number[][] = [];

  beforeAll(async () => {
    // The Rust tokenizer, in batches so its threads share the work.
    for (let i = 0; i < docs.length; i += 32) {
      const batch = await reference.encodeBatch(docs.slice(i, i + 32).map((d) => d.text));
      for (const encoding of batch) expected.push(encoding.getIds());
    }
  });

  it('is at least 5 MB and covers every kind of text', () => {
    expect(corpusBytes(docs)).toBeGreaterThanOrEqual(5 * 1024 * 1024);
    const kinds = new Set(docs.map((d) => d.kind));
    expect([...kinds].sort()).toEqual(['code', 'generated', 'prose', 'translations']);
    const all = docs.map((d) => d.text).join('');
    // Scripts: Latin, Cyrillic, Greek, Arabic, Hebrew, Devanagari, Thai, Han, Hiragana, Hangul.
    for (const script of [
      'Latin',
      'Cyrillic',
      'Greek',
      'Arabic',
      'Hebrew',
      'Devanagari',
      'Thai',
      'Han',
      'Hiragana',
      'Hangul',
    ]) {
      expect(new RegExp(`\\p{Script=${script}}`, 'u').test(all), script).toBe(true);
    }
    expect(/\p{Extended_Pictographic}/u.test(all)).toBe(true);
    expect(/\p{M}/u.test(all)).toBe(true);
    expect(/ {8,}/.test(all)).toBe(true);
    expect(all.isWellFormed()).toBe(false); // lone surrogates are in
  });

  it('encodes every document to exactly the ids of Hugging Face tokenizers', () => {
    let tokens = 0;
    for (const [i, doc] of docs.entries()) {
      const ids = neox.encode(doc.text);
      if (ids.length !== expected[i]!.length || ids.some((id, k) => id !== expected[i]![k])) {
        const k = ids.findIndex((id, j) => id !== expected[i]![j]);
        expect.fail(
          `${doc.source}: first difference at token ${k}: ours ${ids.slice(k, k + 5)} vs ${expected[i]!.slice(k, k + 5)} ` +
            `near ${JSON.stringify(neox.decode(ids.slice(Math.max(0, k - 5), k + 5)))}`,
        );
      }
      tokens += ids.length;
    }
    expect(tokens).toBeGreaterThan(1_000_000);
  });

  it('decodes encode(x) back to NFC(x) for every well-formed document', () => {
    for (const doc of docs) {
      if (!doc.text.isWellFormed()) continue;
      expect(neox.decode(neox.encode(doc.text)) === doc.text.normalize('NFC'), doc.source).toBe(
        true,
      );
    }
  });

  it('decodes to the same text as Hugging Face tokenizers, lone surrogates and all', async () => {
    for (const [i, doc] of docs.entries()) {
      if (i % 4 !== 0 && doc.kind !== 'generated') continue;
      expect(
        neox.decode(expected[i]!) === (await reference.decode(expected[i]!, false)),
        doc.source,
      ).toBe(true);
    }
  });

  it('streams the same text as decode, one id at a time, without splitting a character', () => {
    for (const [i, doc] of docs.entries()) {
      if (i % 8 !== 0 && doc.kind !== 'generated') continue;
      const stream = neox.createStreamDecoder();
      const chunks: string[] = [];
      for (const id of expected[i]!) chunks.push(stream.push(id));
      chunks.push(stream.flush());
      expect(chunks.join('') === neox.decode(expected[i]!), doc.source).toBe(true);
      if (doc.text.isWellFormed()) {
        // A well-formed text never yields U+FFFD in a chunk: split characters are held back.
        expect(
          chunks.some((c) => c.includes('\ufffd')),
          doc.source,
        ).toBe(false);
      }
    }
  });

  it('reports the same offsets as Hugging Face tokenizers for text already in NFC', async () => {
    let checked = 0;
    for (const [i, doc] of docs.entries()) {
      if (i % 6 !== 0 || doc.text !== doc.text.normalize('NFC') || !doc.text.isWellFormed())
        continue;
      const ours = neox.encodeWithOffsets(doc.text);
      const theirs = await reference.encode(doc.text);
      expect(ours.ids).toEqual(expected[i]);
      expect(ours.offsets).toEqual(toUtf16Offsets(doc.text, theirs.getOffsets()));
      checked++;
    }
    expect(checked).toBeGreaterThan(10);
  });
});
