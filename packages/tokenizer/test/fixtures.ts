import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Tokenizer as HfTokenizer } from 'tokenizers';
import { Tokenizer } from '../src/index.js';

const fixtureDir = fileURLToPath(new URL('../../../fixtures/gpt-neox-20b/', import.meta.url));

/** The GPT-NeoX-20B `tokenizer.json` every Pythia model ships (this package's copy), as text. */
export const tokenizerJsonText = readFileSync(
  new URL('../data/gpt-neox-20b.json', import.meta.url),
  'utf8',
);

/** Upstream test cases: text → expected ids (no special tokens added). */
export const upstreamCases: Array<{ text: string; ids: number[]; source: string }> = JSON.parse(
  readFileSync(`${fixtureDir}cases.json`, 'utf8'),
).cases;

/**
 * `tokenizer.json` as tests mutate it: any field, any depth. `any` keeps the mutations readable.
 */
// biome-ignore lint/suspicious/noExplicitAny: tests reach into arbitrary tokenizer.json fields
export type TokenizerJson = Record<string, any>;

/** A fresh parse of the GPT-NeoX-20B `tokenizer.json`, for tests that modify it. */
export function tokenizerJson(): TokenizerJson {
  return JSON.parse(tokenizerJsonText);
}

export const neox = Tokenizer.fromJSON(tokenizerJsonText);

/** The reference: Hugging Face `tokenizers` (the Rust library) through its Node binding. */
export const reference = HfTokenizer.fromString(tokenizerJsonText);

export async function referenceIds(tokenizer: HfTokenizer, text: string): Promise<number[]> {
  return (await tokenizer.encode(text)).getIds();
}
