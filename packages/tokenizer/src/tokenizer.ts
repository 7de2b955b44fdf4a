import { AddedTokenMatcher } from './added-tokens.js';
import { BpeMerges } from './bpe.js';
import { BYTE_TO_CHAR, byteLevelToBytes } from './byte-level.js';
import { bmpClasses, WHITESPACE } from './char-class.js';
import {
  type NormalizationForm,
  parseTokenizerJson,
  type TemplatePiece,
  type TokenizerSpec,
} from './config.js';
import { InvalidTokenIdError, InvalidTokenizerConfigError } from './errors.js';
import { normalize } from './normalize.js';
import { type Alignment, clusterAlignment, shiftAlignment } from './offsets.js';
import { splitGpt2 } from './pre-tokenizer.js';
import { StreamDecoder } from './stream-decoder.js';

/** Options of {@link Tokenizer.encode}. */
export interface EncodeOptions {
  /** Add the tokens the post-processor defines (none for GPT-NeoX-20B). Default `true`. */
  addSpecialTokens?: boolean;
}

/** Options of {@link Tokenizer.decode}. */
export interface DecodeOptions {
  /** Leave out special tokens such as `<|endoftext|>`. Default `false`. */
  skipSpecialTokens?: boolean;
}

/** Ids with the span of input each came from. */
export interface EncodingWithOffsets {
  ids: number[];
  /**
   * `[start, end)` of each token as UTF-16 indices into the input string (`text.slice(start, end)`).
   * Leading and trailing spaces are trimmed as Hugging Face's ByteLevel `trim_offsets` does.
   */
  offsets: Array<[number, number]>;
}

const SPACE_CHAR = 0x0120; // 'Ġ', the byte-level spelling of ' '
const WORD_CACHE_LIMIT = 1 << 18;
const CACHEABLE_WORD_LENGTH = 64;

function wellFormed(text: string): string {
  // Lone surrogates become U+FFFD, as when a string crosses into Rust (or is UTF-8 encoded).
  return text.isWellFormed() ? text : text.toWellFormed();
}

/** What ByteLevel's `trim_offsets` trims: the byte-level space 'Ġ' and Unicode White_Space. */
function isWhitespaceChar(c: number): boolean {
  return c === SPACE_CHAR || ((c & 0xfc00) !== 0xd800 && bmpClasses()[c] === WHITESPACE);
}

/**
 * The GPT-NeoX-20B byte-level BPE tokenizer (and any `tokenizer.json` of that family), producing
 * the same ids as Hugging Face `tokenizers`.
 *
 * @example
 * ```ts
 * import { Tokenizer } from '@pythiajs/tokenizer';
 *
 * const json = await (await fetch('https://huggingface.co/EleutherAI/pythia-70m/resolve/main/tokenizer.json')).text();
 * const tokenizer = Tokenizer.fromJSON(json);
 * tokenizer.encode('Hello, I am'); // [12092, 13, 309, 717]
 * tokenizer.decode([12092, 13, 309, 717]); // 'Hello, I am'
 * ```
 */
export class Tokenizer {
  /** Number of ids that have a token (50277 for GPT-NeoX-20B; models pad their logits beyond it). */
  readonly vocabSize: number;
  /** Id of `<|endoftext|>` (0 for GPT-NeoX-20B), if the vocabulary has it. */
  readonly eosTokenId: number | undefined;
  /** GPT-NeoX uses `<|endoftext|>` as beginning-of-sequence too; Pythia never prepends it. */
  readonly bosTokenId: number | undefined;
  /** Ids of the special added tokens (`<|endoftext|>`, `<|padding|>`). */
  readonly specialTokenIds: ReadonlySet<number>;

  private readonly normalizer: NormalizationForm | null;
  private readonly addPrefixSpace: boolean;
  private readonly useRegex: boolean;
  private readonly trimOffsets: boolean;
  private readonly ignoreMerges: boolean;
  private readonly template: TemplatePiece[] | null;
  private readonly vocab: Map<string, number>;
  private readonly idToTokenTable: Array<string | undefined>;
  private readonly addedToId: Map<string, number>;
  private readonly merges: BpeMerges;
  private readonly byteIds = new Int32Array(256);
  private readonly rawAdded: AddedTokenMatcher;
  private readonly normalizedAdded: AddedTokenMatcher;
  private readonly bytesTable: Array<Uint8Array | undefined> = [];
  private readonly wordCache = new Map<string, number[]>();
  private symbols = new Int32Array(256);

  private constructor(spec: TokenizerSpec) {
    this.normalizer = spec.normalizer;
    this.addPrefixSpace = spec.addPrefixSpace;
    this.useRegex = spec.useRegex;
    this.trimOffsets = spec.trimOffsets;
    this.ignoreMerges = spec.ignoreMerges;
    this.template = spec.template;
    this.vocab = spec.vocab;
    this.merges = new BpeMerges(spec.vocab, spec.merges);

    this.addedToId = new Map(spec.addedTokens.map((t) => [t.content, t.id]));
    let maxId = -1;
    for (const id of spec.vocab.values()) if (id > maxId) maxId = id;
    for (const added of spec.addedTokens) if (added.id > maxId) maxId = added.id;
    // Preallocated: V8 iterates integer-like keys ("0", "1", …) first, so ids arrive out of order
    // and a growing array would fall back to slow dictionary mode.
    this.idToTokenTable = new Array<string | undefined>(maxId + 1).fill(undefined);
    for (const [token, id] of spec.vocab) this.idToTokenTable[id] = token;
    for (const added of spec.addedTokens) this.idToTokenTable[added.id] = added.content;
    let count = 0;
    for (let id = 0; id < this.idToTokenTable.length; id++)
      if (this.idToTokenTable[id] !== undefined) count++;
    this.vocabSize = count;

    for (let b = 0; b < 256; b++) {
      const id = spec.vocab.get(BYTE_TO_CHAR[b]!);
      // Bytes that never occur in UTF-8 (0xC0, 0xC1, 0xF5–0xFF) need no symbol.
      const occurs = b < 0xc0 || (b >= 0xc2 && b <= 0xf4);
      if (id === undefined && occurs) {
        throw new InvalidTokenizerConfigError(
          `the vocab lacks the byte-level symbol ${JSON.stringify(BYTE_TO_CHAR[b])} for byte ${b}`,
        );
      }
      this.byteIds[b] = id ?? -1;
    }

    this.rawAdded = new AddedTokenMatcher(spec.addedTokens.filter((t) => !t.normalized));
    this.normalizedAdded = new AddedTokenMatcher(spec.addedTokens.filter((t) => t.normalized));
    this.specialTokenIds = new Set(spec.addedTokens.filter((t) => t.special).map((t) => t.id));
    this.eosTokenId = this.tokenToId('<|endoftext|>');
    this.bosTokenId = this.eosTokenId;
  }

  /**
   * Loads a Hugging Face `tokenizer.json` (its text or the parsed object). Merges may be stored as
   * `"a b"` strings or `["a", "b"]` pairs.
   *
   * @throws {UnsupportedTokenizerFeatureError} the file uses a feature this package does not
   *   implement (named in the message) — it is never silently mis-applied.
   * @throws {InvalidTokenizerConfigError} the file is malformed.
   */
  static fromJSON(json: string | object): Tokenizer {
    let parsed: unknown = json;
    if (typeof json === 'string') {
      try {
        parsed = JSON.parse(json);
      } catch (error) {
        throw new InvalidTokenizerConfigError(
          `tokenizer.json is not valid JSON: ${(error as Error).message}`,
        );
      }
    }
    return new Tokenizer(parseTokenizerJson(parsed));
  }

  /**
   * Token ids of `text`, identical to Hugging Face `tokenizers`' `encode(text).ids`.
   *
   * @example
   * ```ts
   * tokenizer.encode('a    b'); // [66, 50274, 67] — runs of spaces are added tokens
   * ```
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids: number[] = [];
    this.encodeInto(wellFormed(text), ids, null);
    return this.postProcess(ids, null, options).ids;
  }

  /** {@link encode} into a `Uint32Array`, ready to upload to a GPU buffer. */
  encodeToUint32Array(text: string, options: EncodeOptions = {}): Uint32Array {
    return Uint32Array.from(this.encode(text, options));
  }

  /** {@link encode} with the input span of every token. */
  encodeWithOffsets(text: string, options: EncodeOptions = {}): EncodingWithOffsets {
    const ids: number[] = [];
    const flat: number[] = [];
    this.encodeInto(wellFormed(text), ids, flat);
    const offsets: Array<[number, number]> = [];
    for (let i = 0; i < flat.length; i += 2) offsets.push([flat[i]!, flat[i + 1]!]);
    return this.postProcess(ids, offsets, options) as EncodingWithOffsets;
  }

  /** Encodes each text; the same as mapping {@link encode}. */
  encodeBatch(texts: readonly string[], options: EncodeOptions = {}): number[][] {
    return texts.map((text) => this.encode(text, options));
  }

  /**
   * Text of `ids`, identical to Hugging Face `tokenizers`' `decode`. Ids that have no token (such
   * as Pythia's padded logit rows 50277–50303) decode to nothing, as there.
   *
   * @throws {InvalidTokenIdError} an id is negative or not an integer.
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const parts: Uint8Array[] = [];
    let length = 0;
    for (let i = 0; i < ids.length; i++) {
      const bytes = this.bytesFor(ids[i]!, options.skipSpecialTokens ?? false);
      if (bytes) {
        parts.push(bytes);
        length += bytes.length;
      }
    }
    const all = new Uint8Array(length);
    let at = 0;
    for (const part of parts) {
      all.set(part, at);
      at += part.length;
    }
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(all);
  }

  /**
   * A decoder for ids arriving one at a time (generation): each `push(id)` returns the text that
   * is now complete, never half of a UTF-8 character.
   */
  createStreamDecoder(options: DecodeOptions = {}): StreamDecoder {
    const skip = options.skipSpecialTokens ?? false;
    return new StreamDecoder((id) => this.bytesFor(id, skip));
  }

  /** The token string of `id` (byte-level spelling, e.g. `'Ġthe'`), or `undefined`. */
  idToToken(id: number): string | undefined {
    if (!Number.isInteger(id) || id < 0) throw new InvalidTokenIdError(id);
    return this.idToTokenTable[id];
  }

  /** The id of a token string (byte-level spelling), or `undefined`. */
  tokenToId(token: string): number | undefined {
    return this.addedToId.get(token) ?? this.vocab.get(token);
  }

  /** Bytes `id` decodes to; undefined for ids without a token and skipped special tokens. */
  private bytesFor(id: number, skipSpecial: boolean): Uint8Array | undefined {
    if (!Number.isInteger(id) || id < 0) throw new InvalidTokenIdError(id);
    if (skipSpecial && this.specialTokenIds.has(id)) return undefined;
    let bytes = this.bytesTable[id];
    if (bytes === undefined) {
      const token = this.idToTokenTable[id];
      if (token === undefined) return undefined;
      // As Hugging Face's ByteLevel decoder: a token whose characters are all in the byte-level
      // alphabet stands for those bytes; any other (e.g. an added run of spaces) for its own text.
      bytes = byteLevelToBytes(token) ?? new TextEncoder().encode(token);
      this.bytesTable[id] = bytes;
    }
    return bytes;
  }

  private postProcess(
    ids: number[],
    offsets: Array<[number, number]> | null,
    options: EncodeOptions,
  ): { ids: number[]; offsets: Array<[number, number]> | null } {
    if (!this.template || options.addSpecialTokens === false) return { ids, offsets };
    const outIds: number[] = [];
    const outOffsets: Array<[number, number]> = [];
    for (const piece of this.template) {
      if ('sequence' in piece) {
        outIds.push(...ids);
        if (offsets) outOffsets.push(...offsets);
      } else {
        outIds.push(...piece.ids);
        for (let i = 0; i < piece.ids.length; i++) outOffsets.push([0, 0]);
      }
    }
    return { ids: outIds, offsets: offsets ? outOffsets : null };
  }

  /**
   * The pipeline of Hugging Face's `encode`: split out raw-matched added tokens, normalize what is
   * left, split out normalized added tokens, then pre-tokenize and BPE each remaining piece.
   * `offsets` (flat start/end pairs) is filled only when given.
   */
  private encodeInto(text: string, ids: number[], offsets: number[] | null): void {
    const matches: number[] = [];
    this.rawAdded.findAll(text, 0, text.length, matches);
    let pos = 0;
    for (let m = 0; m < matches.length; m += 3) {
      const start = matches[m]!;
      if (start > pos) this.encodeNormalized(text, pos, start, ids, offsets);
      this.emitAdded(matches[m + 2]!, start, matches[m + 1]!, ids, offsets);
      pos = matches[m + 1]!;
    }
    if (pos < text.length) this.encodeNormalized(text, pos, text.length, ids, offsets);
  }

  private encodeNormalized(
    text: string,
    start: number,
    end: number,
    ids: number[],
    offsets: number[] | null,
  ) {
    const input = start === 0 && end === text.length ? text : text.slice(start, end);
    const normalized = this.normalizer ? normalize(input, this.normalizer) : input;
    let align: Alignment | null = null;
    if (offsets) {
      align =
        normalized === input
          ? shiftAlignment(start)
          : clusterAlignment(input, normalized, start, this.normalizer ?? 'NFC');
    }
    const matches: number[] = [];
    this.normalizedAdded.findAll(normalized, 0, normalized.length, matches);
    let pos = 0;
    for (let m = 0; m < matches.length; m += 3) {
      const s = matches[m]!;
      const e = matches[m + 1]!;
      if (s > pos) this.encodeWords(normalized, pos, s, ids, offsets, align);
      this.emitAdded(
        matches[m + 2]!,
        align ? align.start(s) : 0,
        align ? align.end(e) : 0,
        ids,
        offsets,
      );
      pos = e;
    }
    if (pos < normalized.length)
      this.encodeWords(normalized, pos, normalized.length, ids, offsets, align);
  }

  private emitAdded(
    id: number,
    start: number,
    end: number,
    ids: number[],
    offsets: number[] | null,
  ) {
    ids.push(id);
    if (offsets) this.pushOffsets(offsets, this.idToTokenTable[id]!, start, end, ids.length - 1);
  }

  /** Pre-tokenizes `text[start, end)` and appends the BPE ids of every piece. */
  private encodeWords(
    input: string,
    from: number,
    to: number,
    ids: number[],
    offsets: number[] | null,
    inputAlign: Alignment | null,
  ): void {
    let text = input;
    let start = from;
    let end = to;
    let align = inputAlign;
    if (this.addPrefixSpace && input.charCodeAt(from) !== 0x20) {
      // Hugging Face prepends the space to this piece; it maps to the piece's first character.
      text = ` ${input.slice(from, to)}`;
      start = 0;
      end = text.length;
      align = inputAlign && {
        start: (u) => inputAlign.start(Math.max(0, u - 1) + from),
        end: (u) => (u === 0 ? inputAlign.start(from) : inputAlign.end(u - 1 + from)),
      };
    }
    const ends: number[] = [];
    if (this.useRegex) splitGpt2(text, start, end, ends);
    else ends.push(end);
    const cache = this.wordCache;
    let s = start;
    for (const e of ends) {
      let tokens: number[] | undefined;
      if (e - s <= CACHEABLE_WORD_LENGTH) {
        const word = text.slice(s, e);
        tokens = cache.get(word);
        if (tokens === undefined) {
          tokens = this.bpeWord(text, s, e);
          if (cache.size >= WORD_CACHE_LIMIT) cache.clear();
          cache.set(word, tokens);
        }
      } else {
        tokens = this.bpeWord(text, s, e);
      }
      for (let t = 0; t < tokens.length; t++) ids.push(tokens[t]!);
      if (offsets && align)
        this.wordOffsets(text, s, e, tokens, ids.length - tokens.length, offsets, align);
      s = e;
    }
  }

  /** BPE ids of one pre-token: its UTF-8 bytes as byte symbols, then merged. */
  private bpeWord(text: string, start: number, end: number): number[] {
    if (this.symbols.length < (end - start) * 3) this.symbols = new Int32Array((end - start) * 3);
    const sym = this.symbols;
    const byteIds = this.byteIds;
    let n = 0;
    for (let i = start; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x80) {
        sym[n++] = byteIds[c]!;
      } else if (c < 0x800) {
        sym[n++] = byteIds[0xc0 | (c >> 6)]!;
        sym[n++] = byteIds[0x80 | (c & 0x3f)]!;
      } else if ((c & 0xfc00) === 0xd800) {
        const cp = ((c - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00) + 0x10000;
        sym[n++] = byteIds[0xf0 | (cp >> 18)]!;
        sym[n++] = byteIds[0x80 | ((cp >> 12) & 0x3f)]!;
        sym[n++] = byteIds[0x80 | ((cp >> 6) & 0x3f)]!;
        sym[n++] = byteIds[0x80 | (cp & 0x3f)]!;
      } else {
        sym[n++] = byteIds[0xe0 | (c >> 12)]!;
        sym[n++] = byteIds[0x80 | ((c >> 6) & 0x3f)]!;
        sym[n++] = byteIds[0x80 | (c & 0x3f)]!;
      }
    }
    if (this.ignoreMerges) {
      let spelled = '';
      for (let k = 0; k < n; k++) spelled += this.idToTokenTable[sym[k]!];
      const whole = this.vocab.get(spelled);
      if (whole !== undefined) return [whole];
    }
    const m = this.merges.apply(sym, n);
    return Array.from(sym.subarray(0, m));
  }

  /** Offsets of the BPE tokens of `text[start, end)`, whose ids begin at `ids[first]`. */
  private wordOffsets(
    text: string,
    start: number,
    end: number,
    tokens: number[],
    first: number,
    offsets: number[],
    align: Alignment,
  ): void {
    // UTF-16 index of the character holding each byte of the piece.
    const unitOfByte: number[] = [];
    for (let i = start; i < end; ) {
      const cp = text.codePointAt(i)!;
      const width = cp > 0xffff ? 2 : 1;
      const bytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      for (let k = 0; k < bytes; k++) unitOfByte.push(i);
      i += width;
    }
    let byte = 0;
    for (let t = 0; t < tokens.length; t++) {
      const token = this.idToTokenTable[tokens[t]!]!;
      const s = unitOfByte[byte]!;
      byte += token.length; // one byte-level character per byte
      const lastUnit = unitOfByte[byte - 1]!;
      const e = lastUnit + ((text.charCodeAt(lastUnit) & 0xfc00) === 0xd800 ? 2 : 1);
      this.pushOffsets(offsets, token, align.start(s), align.end(e), first + t);
    }
  }

  private pushOffsets(offsets: number[], token: string, start: number, end: number, index: number) {
    if (!this.trimOffsets) {
      offsets.push(start, end);
      return;
    }
    let leading = 0;
    while (leading < token.length && isWhitespaceChar(token.charCodeAt(leading))) leading++;
    let trailing = 0;
    while (
      trailing < token.length &&
      isWhitespaceChar(token.charCodeAt(token.length - 1 - trailing))
    )
      trailing++;
    // Hugging Face keeps the space it added itself in front of the first token.
    if ((index === 0 || start === 0) && this.addPrefixSpace && leading === 1) leading = 0;
    let s = start;
    let e = end;
    if (leading > 0) s = Math.min(s + leading, e);
    if (trailing > 0 && e >= trailing) e = Math.max(e - trailing, s);
    offsets.push(s, e);
  }
}
