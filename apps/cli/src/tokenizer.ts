import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Tokenizer } from '@pythiajs/tokenizer';
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
 */
export async function modelTokenizer(target: ModelTarget): Promise<Tokenizer> {
  const files = await target.store.files(target.repo, target.revision);
  if (!files.some((f) => f.path === 'tokenizer.json')) return pythiaTokenizer();
  const source = await target.store.open(target.repo, target.revision, 'tokenizer.json');
  try {
    return Tokenizer.fromJSON(new TextDecoder().decode(await source.read(0, source.size)));
  } finally {
    await source.close?.();
  }
}
