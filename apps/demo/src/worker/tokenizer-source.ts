import type { BrowserHubCache, RepoFile } from '@pythiajs/checkpoint-hub';
import { Tokenizer } from '@pythiajs/tokenizer';
// Emitted as a static file next to the site, fetched on demand: inlined, its 2.4 MB of JSON
// would be parsed as JavaScript on every visit.
import bundledTokenizerUrl from '@pythiajs/tokenizer/gpt-neox-20b.json?url';
import type { ModelSource } from './protocol.js';

/** Tokenizers by content (the git blob id of `tokenizer.json`, or `bundled`): parsed once. */
const parsed = new Map<string, Promise<Tokenizer>>();

/**
 * The tokenizer of a revision: its own `tokenizer.json` when its listing has one (fetched
 * through the browser cache, so a second visit needs no network), else the GPT-NeoX-20B
 * tokenizer this site ships, which every Pythia model uses. Random test checkpoints and
 * converted repos often come without one.
 */
export function tokenizerFor(
  store: BrowserHubCache,
  source: ModelSource,
  files: readonly RepoFile[] | undefined,
): { origin: 'repo' | 'bundled'; tokenizer: Promise<Tokenizer> } {
  const file = files?.find((f) => f.path === 'tokenizer.json');
  if (!file) return { origin: 'bundled', tokenizer: once('bundled', fetchBundled) };
  return {
    origin: 'repo',
    tokenizer: once(file.oid, async () => {
      const bytes = await store.open(source.repo, source.revision, file.path);
      return Tokenizer.fromJSON(new TextDecoder().decode(await bytes.read(0, bytes.size)));
    }),
  };
}

function once(key: string, load: () => Promise<Tokenizer>): Promise<Tokenizer> {
  let tokenizer = parsed.get(key);
  if (!tokenizer) {
    tokenizer = load();
    parsed.set(key, tokenizer);
    // A failed download may succeed next time.
    tokenizer.catch(() => parsed.delete(key));
  }
  return tokenizer;
}

async function fetchBundled(): Promise<Tokenizer> {
  const response = await fetch(bundledTokenizerUrl);
  if (!response.ok) {
    throw new Error(`the site's tokenizer (${bundledTokenizerUrl}) answered ${response.status}`);
  }
  return Tokenizer.fromJSON(await response.text());
}
