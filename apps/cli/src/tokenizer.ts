import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Tokenizer } from '@pythiajs/tokenizer';

let loaded: Promise<Tokenizer> | undefined;

/**
 * The GPT-NeoX-20B tokenizer that all 16 Pythia models (every checkpoint) share, from the copy
 * `@pythiajs/tokenizer` ships, so tokenizing works offline.
 */
export function pythiaTokenizer(): Promise<Tokenizer> {
  loaded ??= (async () => {
    const path = createRequire(import.meta.url).resolve('@pythiajs/tokenizer/gpt-neox-20b.json');
    return Tokenizer.fromJSON(await readFile(path, 'utf8'));
  })();
  return loaded;
}
