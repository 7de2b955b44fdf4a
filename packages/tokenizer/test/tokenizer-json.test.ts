import { Tokenizer as HfTokenizer } from 'tokenizers';
import { describe, expect, it } from 'vitest';
import {
  InvalidTokenizerConfigError,
  Tokenizer,
  UnsupportedTokenizerFeatureError,
} from '../src/index.js';
import { neox, referenceIds, type TokenizerJson, tokenizerJson } from './fixtures.js';

const SAMPLES = [
  'Hello, I am',
  ' leading space and  double  spaces',
  "It's the model's 2nd run: 3.14159 ± 0.001!",
  'def f(x):\n        return x  # indented\n',
  'Ünïcödé, 日本語のテキスト, العربية, 🤗👩‍👩‍👧',
  '<|endoftext|>The end<|padding|>',
];

describe('Tokenizer.fromJSON', () => {
  it('reads merges stored as ["a", "b"] pairs the same as "a b" strings', () => {
    const json = tokenizerJson();
    json.model.merges = json.model.merges.map((m: string) => m.split(' '));
    const pairs = Tokenizer.fromJSON(json);
    for (const text of SAMPLES) expect(pairs.encode(text)).toEqual(neox.encode(text));
  });

  it('accepts the parsed object as well as the text', () => {
    expect(Tokenizer.fromJSON(tokenizerJson()).encode(SAMPLES[2]!)).toEqual(
      neox.encode(SAMPLES[2]!),
    );
  });

  it('honours add_prefix_space like Hugging Face tokenizers', async () => {
    const json = tokenizerJson();
    json.pre_tokenizer.add_prefix_space = true;
    const ours = Tokenizer.fromJSON(json);
    const theirs = HfTokenizer.fromString(JSON.stringify(json));
    for (const text of SAMPLES) expect(ours.encode(text)).toEqual(await referenceIds(theirs, text));
    expect(ours.encode('Hello')).not.toEqual(neox.encode('Hello'));
  });

  it('adds the tokens of a TemplateProcessing post-processor unless told not to', async () => {
    const json = tokenizerJson();
    json.post_processor = {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '<|endoftext|>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
      ],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: {
        '<|endoftext|>': { id: '<|endoftext|>', ids: [0], tokens: ['<|endoftext|>'] },
      },
    };
    const ours = Tokenizer.fromJSON(json);
    const theirs = HfTokenizer.fromString(JSON.stringify(json));
    expect(ours.encode('Hello')).toEqual([0, 12092]);
    expect(ours.encode('Hello')).toEqual(await referenceIds(theirs, 'Hello'));
    expect(ours.encode('Hello', { addSpecialTokens: false })).toEqual([12092]);
    expect(neox.encode('Hello', { addSpecialTokens: true })).toEqual([12092]);
  });

  it('returns the whole vocabulary entry when ignore_merges is set and the word is in it', async () => {
    const json = tokenizerJson();
    json.model.ignore_merges = true;
    const ours = Tokenizer.fromJSON(json);
    const theirs = HfTokenizer.fromString(JSON.stringify(json));
    for (const text of SAMPLES) expect(ours.encode(text)).toEqual(await referenceIds(theirs, text));
  });

  const refusals: Array<[string, (json: TokenizerJson) => void, RegExp]> = [
    [
      'a Lowercase normalizer',
      (j) => (j.normalizer = { type: 'Lowercase' }),
      /normalizer\.type = "Lowercase"/,
    ],
    [
      'a Metaspace pre-tokenizer',
      (j) => (j.pre_tokenizer = { type: 'Metaspace' }),
      /pre_tokenizer\.type = "Metaspace"/,
    ],
    ['a WordPiece model', (j) => (j.model.type = 'WordPiece'), /model\.type = "WordPiece"/],
    ['BPE dropout', (j) => (j.model.dropout = 0.1), /model\.dropout = 0\.1/],
    [
      'a subword prefix',
      (j) => (j.model.continuing_subword_prefix = '##'),
      /continuing_subword_prefix/,
    ],
    ['byte fallback', (j) => (j.model.byte_fallback = true), /model\.byte_fallback/],
    [
      'an added token with lstrip',
      (j) => (j.added_tokens[0].lstrip = true),
      /added_tokens\[0\]\.lstrip/,
    ],
    [
      'an added token with single_word',
      (j) => (j.added_tokens[2].single_word = true),
      /added_tokens\[2\]\.single_word/,
    ],
    ['truncation', (j) => (j.truncation = { max_length: 8 }), /truncation/],
    [
      'a WordPiece decoder',
      (j) => (j.decoder = { type: 'WordPiece' }),
      /decoder\.type = "WordPiece"/,
    ],
    [
      'a Bert post-processor',
      (j) => (j.post_processor = { type: 'BertProcessing' }),
      /post_processor\.type/,
    ],
  ];
  for (const [feature, mutate, message] of refusals) {
    it(`refuses ${feature}, naming it`, () => {
      const json = tokenizerJson();
      mutate(json);
      expect(() => Tokenizer.fromJSON(json)).toThrow(UnsupportedTokenizerFeatureError);
      expect(() => Tokenizer.fromJSON(json)).toThrow(message);
    });
  }

  it('rejects malformed files with a message that locates the problem', () => {
    expect(() => Tokenizer.fromJSON('{"model": ')).toThrow(/not valid JSON/);
    expect(() => Tokenizer.fromJSON({})).toThrow(/model is missing/);
    const json = tokenizerJson();
    json.model.merges[5] = 'Ġ zzzz-not-a-token';
    expect(() => Tokenizer.fromJSON(json)).toThrow(InvalidTokenizerConfigError);
    expect(() => Tokenizer.fromJSON(json)).toThrow(/model\.merges\[5\].*not in the vocab/);
    const noSpace = tokenizerJson();
    noSpace.model.merges[0] = 'ĠĠ';
    expect(() => Tokenizer.fromJSON(noSpace)).toThrow(/model\.merges\[0\] = "ĠĠ" is neither/);
  });
});
