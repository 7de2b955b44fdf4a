import type { AddedToken } from './added-tokens.js';
import { InvalidTokenizerConfigError, UnsupportedTokenizerFeatureError } from './errors.js';

/** One BPE merge as `tokenizer.json` stores it. */
export type Merge = string | readonly [string, string];

/** Unicode normalization forms a `tokenizer.json` normalizer may request. */
export type NormalizationForm = 'NFC' | 'NFD' | 'NFKC' | 'NFKD';

/** What a single-sequence encode adds around the ids (TemplateProcessing's `single`). */
export type TemplatePiece = { sequence: true } | { ids: number[]; tokens: string[] };

/** The parts of a `tokenizer.json` this package implements, validated. */
export interface TokenizerSpec {
  normalizer: NormalizationForm | null;
  addPrefixSpace: boolean;
  useRegex: boolean;
  trimOffsets: boolean;
  vocab: Map<string, number>;
  /** As stored: `"a b"` strings or `["a", "b"]` pairs; checked when the merge table is built. */
  merges: Merge[];
  ignoreMerges: boolean;
  addedTokens: AddedToken[];
  /** `null` when post-processing adds no tokens (ByteLevel, or none). */
  template: TemplatePiece[] | null;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function typeOf(node: Json, path: string): string {
  if (typeof node.type !== 'string')
    throw new InvalidTokenizerConfigError(`${path}.type is missing`);
  return node.type;
}

/** Flattens a `Sequence` node into its members (`normalizers`, `pretokenizers`, …). */
function members(node: unknown, path: string, listKey: string): Array<[Json, string]> {
  if (node === null || node === undefined) return [];
  if (!isObject(node)) throw new InvalidTokenizerConfigError(`${path} must be an object or null`);
  if (typeOf(node, path) !== 'Sequence') return [[node, path]];
  const list = node[listKey];
  if (!Array.isArray(list))
    throw new InvalidTokenizerConfigError(`${path}.${listKey} must be an array`);
  return list.flatMap((child, i) => members(child, `${path}.${listKey}[${i}]`, listKey));
}

const unsupported = (path: string, value: unknown) =>
  new UnsupportedTokenizerFeatureError(`${path} = ${JSON.stringify(value)}`);

function parseNormalizer(node: unknown): NormalizationForm | null {
  const list = members(node, 'normalizer', 'normalizers');
  if (list.length > 1) throw unsupported('normalizer', 'a Sequence of several normalizers');
  const [only] = list;
  if (!only) return null;
  const type = typeOf(only[0], only[1]);
  if (type === 'NFC' || type === 'NFD' || type === 'NFKC' || type === 'NFKD') return type;
  throw unsupported(`${only[1]}.type`, type);
}

function parseByteLevel(node: Json, path: string) {
  for (const [key, value] of Object.entries(node)) {
    if (
      key === 'type' ||
      key === 'add_prefix_space' ||
      key === 'trim_offsets' ||
      key === 'use_regex'
    )
      continue;
    throw unsupported(`${path}.${key}`, value);
  }
  return {
    addPrefixSpace: node.add_prefix_space === true,
    trimOffsets: node.trim_offsets !== false,
    useRegex: node.use_regex !== false,
  };
}

function parsePreTokenizer(node: unknown) {
  const list = members(node, 'pre_tokenizer', 'pretokenizers');
  const [only] = list;
  if (!only) throw unsupported('pre_tokenizer', null);
  if (list.length > 1) throw unsupported('pre_tokenizer', 'a Sequence of several pre-tokenizers');
  const type = typeOf(only[0], only[1]);
  if (type !== 'ByteLevel') throw unsupported(`${only[1]}.type`, type);
  return parseByteLevel(only[0], only[1]);
}

function parseDecoder(node: unknown): void {
  const list = members(node, 'decoder', 'decoders');
  if (list.length !== 1)
    throw unsupported('decoder', list.length === 0 ? null : 'a Sequence of decoders');
  const [decoder, path] = list[0]!;
  const type = typeOf(decoder, path);
  if (type !== 'ByteLevel') throw unsupported(`${path}.type`, type);
}

function parsePostProcessor(node: unknown, vocab: Map<string, number>) {
  let trimOffsets = false;
  let template: TemplatePiece[] | null = null;
  for (const [processor, path] of members(node, 'post_processor', 'processors')) {
    const type = typeOf(processor, path);
    if (type === 'ByteLevel') {
      trimOffsets = parseByteLevel(processor, path).trimOffsets;
    } else if (type === 'TemplateProcessing') {
      template = parseTemplate(processor, path, vocab);
    } else {
      throw unsupported(`${path}.type`, type);
    }
  }
  return { trimOffsets, template };
}

function parseTemplate(
  node: Json,
  path: string,
  vocab: Map<string, number>,
): TemplatePiece[] | null {
  const single = node.single;
  const specials = isObject(node.special_tokens) ? node.special_tokens : {};
  if (!Array.isArray(single))
    throw new InvalidTokenizerConfigError(`${path}.single must be an array`);
  const pieces: TemplatePiece[] = single.map((item, i) => {
    if (isObject(item) && isObject(item.Sequence)) return { sequence: true };
    if (isObject(item) && isObject(item.SpecialToken) && typeof item.SpecialToken.id === 'string') {
      const name = item.SpecialToken.id;
      const entry = specials[name];
      if (isObject(entry) && Array.isArray(entry.ids) && Array.isArray(entry.tokens)) {
        return { ids: entry.ids.map(Number), tokens: entry.tokens.map(String) };
      }
      const id = vocab.get(name);
      if (id === undefined) {
        throw new InvalidTokenizerConfigError(
          `${path}.single[${i}] names unknown special token ${name}`,
        );
      }
      return { ids: [id], tokens: [name] };
    }
    throw new InvalidTokenizerConfigError(
      `${path}.single[${i}] is neither a Sequence nor a SpecialToken`,
    );
  });
  const adds = pieces.some((p) => !('sequence' in p) && p.ids.length > 0);
  return adds ? pieces : null;
}

function parseMerges(raw: unknown): Merge[] {
  if (!Array.isArray(raw)) throw new InvalidTokenizerConfigError('model.merges must be an array');
  return raw as Merge[];
}

function parseModel(model: unknown) {
  if (!isObject(model)) throw new InvalidTokenizerConfigError('model is missing');
  const type = typeOf(model, 'model');
  if (type !== 'BPE') throw unsupported('model.type', type);
  if (typeof model.dropout === 'number' && model.dropout > 0)
    throw unsupported('model.dropout', model.dropout);
  for (const key of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    if (model[key]) throw unsupported(`model.${key}`, model[key]);
  }
  if (model.byte_fallback === true) throw unsupported('model.byte_fallback', true);
  if (!isObject(model.vocab))
    throw new InvalidTokenizerConfigError('model.vocab must be an object');
  const vocab = new Map<string, number>();
  const entries = model.vocab;
  for (const token in entries) {
    const id = entries[token];
    if (typeof id !== 'number' || !(id >= 0) || id % 1 !== 0) {
      throw new InvalidTokenizerConfigError(
        `model.vocab[${JSON.stringify(token)}] is not a token id`,
      );
    }
    vocab.set(token, id);
  }
  return { vocab, merges: parseMerges(model.merges), ignoreMerges: model.ignore_merges === true };
}

function parseAddedTokens(raw: unknown): AddedToken[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new InvalidTokenizerConfigError('added_tokens must be an array');
  return raw.map((entry, i) => {
    const path = `added_tokens[${i}]`;
    if (
      !isObject(entry) ||
      typeof entry.content !== 'string' ||
      entry.content === '' ||
      !Number.isInteger(entry.id)
    ) {
      throw new InvalidTokenizerConfigError(`${path} needs a non-empty content and an integer id`);
    }
    for (const flag of ['lstrip', 'rstrip', 'single_word'] as const) {
      if (entry[flag] === true) throw unsupported(`${path}.${flag}`, true);
    }
    return {
      id: entry.id as number,
      content: entry.content,
      special: entry.special === true,
      // Hugging Face's default: special tokens match raw text, others normalized text.
      normalized: typeof entry.normalized === 'boolean' ? entry.normalized : entry.special !== true,
    };
  });
}

/** Validates a parsed `tokenizer.json` and extracts what the tokenizer needs. */
export function parseTokenizerJson(json: unknown): TokenizerSpec {
  if (!isObject(json))
    throw new InvalidTokenizerConfigError('tokenizer.json must be a JSON object');
  for (const key of ['truncation', 'padding'] as const) {
    if (json[key] !== null && json[key] !== undefined) throw unsupported(key, json[key]);
  }
  const model = parseModel(json.model);
  parseDecoder(json.decoder);
  const { trimOffsets, template } = parsePostProcessor(json.post_processor, model.vocab);
  return {
    normalizer: parseNormalizer(json.normalizer),
    ...parsePreTokenizer(json.pre_tokenizer),
    trimOffsets,
    ...model,
    addedTokens: parseAddedTokens(json.added_tokens),
    template,
  };
}
