import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import {
  InvalidTokenizerConfigError,
  Tokenizer,
  UnsupportedTokenizerFeatureError,
} from '@pythiajs/tokenizer';
import { TokenizerFileError } from './errors.js';
import type { ModelTarget } from './model-options.js';

let bundled: Promise<Tokenizer> | undefined;

/**
 * The GPT-NeoX-20B tokenizer that all 16 Pythia models (every checkpoint) share, from the copy
 * `@pythiajs/tokenizer` ships, so tokenizing works offline.
 */
export function pythiaTokenizer(): Promise<Tokenizer> {
  bundled ??= (async () => {
    const path = createRequire(import.meta.url).resolve('@pythiajs/tokenizer/gpt-neox-20b.json');
    return Tokenizer.fromJSON(await readFile(path, 'utf8'));
  })();
  return bundled;
}

/**
 * The tokenizer of a model's revision: its own `tokenizer.json` when it has one (a fine-tuned or
 * non-Pythia GPT-NeoX repo may differ), else the bundled GPT-NeoX-20B one, which every Pythia
 * checkpoint uses; the fallback also keeps checkpoints without the file usable offline.
 *
 * @throws {TokenizerFileError} the revision's `tokenizer.json` is not JSON or not a GPT-NeoX
 *   tokenizer, named with the model and what to do.
 */
export async function modelTokenizer(target: ModelTarget): Promise<Tokenizer> {
  const files = await target.store.files(target.repo, target.revision);
  if (!files.some((f) => f.path === 'tokenizer.json')) return pythiaTokenizer();
  const source = await target.store.open(target.repo, target.revision, 'tokenizer.json');
  try {
    return Tokenizer.fromJSON(new TextDecoder().decode(await source.read(0, source.size)));
  } catch (error) {
    throw tokenizerFileError(target, error);
  } finally {
    await source.close?.();
  }
}

/**
 * The tokenizer package reports a bad file as it would a bad argument (it cannot tell them
 * apart); here it is a file of a model, which the message names, with the way out.
 */
function tokenizerFileError(target: ModelTarget, error: unknown): unknown {
  let problem: string;
  if (error instanceof UnsupportedTokenizerFeatureError) {
    problem = `it uses ${error.feature}, which @pythiajs/tokenizer does not implement`;
  } else if (error instanceof InvalidTokenizerConfigError) {
    // "tokenizer.json is not valid JSON: …" → "not valid JSON: …"
    problem = error.message.replace(/^tokenizer\.json (is )?/, '');
  } else {
    return error;
  }
  const remedy = target.local
    ? `fix or remove ${join(target.repo, 'tokenizer.json')} (without it, the GPT-NeoX-20B tokenizer every Pythia model shares is used)`
    : `if the cached copy is damaged, run pythia cache rm ${target.label} and try again; a repo with another kind of tokenizer cannot be used`;
  return new TokenizerFileError(
    `tokenizer.json of ${target.label} is not a GPT-NeoX tokenizer: ${problem.split('\n')[0]}; ${remedy}`,
    { cause: error },
  );
}
