// Tokenizer benchmark: single-thread encode throughput on the test corpus (≥ 5 MiB, see
// test/corpus.ts) for this package, the Hugging Face `tokenizers` Rust binding and tokenizers.js,
// measured in the same run, plus tokenizer.json load time. Prints a table and one JSON line.
//
//   pnpm --filter @pythiajs/tokenizer bench
import { Tokenizer as TokenizersJs } from '@huggingface/tokenizers';
import { Tokenizer as RustTokenizer } from 'tokenizers';
import { Tokenizer } from '../src/index.js';
import { corpus, corpusBytes } from '../test/corpus.js';
import { tokenizerJsonText } from '../test/fixtures.js';

const docs = corpus();
const texts = docs.map((d) => d.text);
const megabytes = corpusBytes(docs) / 1e6;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function time(fn: () => unknown): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

// Load time: the first fromJSON in this process (cold JIT) and the median of later ones.
const parseSeconds = await time(() => JSON.parse(tokenizerJsonText));
const parsed = JSON.parse(tokenizerJsonText);
const coldLoad = await time(() => Tokenizer.fromJSON(parsed));
const warmLoads: number[] = [];
for (let i = 0; i < 7; i++) {
  const fresh = JSON.parse(tokenizerJsonText);
  warmLoads.push(await time(() => Tokenizer.fromJSON(fresh)));
}

// Ours: a fresh tokenizer for the first pass (empty word cache), then steady state.
const ours = Tokenizer.fromJSON(tokenizerJsonText);
const firstPass = await time(() => {
  for (const text of texts) ours.encode(text);
});
const steady: number[] = [];
for (let i = 0; i < 5; i++) {
  steady.push(
    await time(() => {
      for (const text of texts) ours.encode(text);
    }),
  );
}

// The Rust binding, one call at a time from this thread (its encode is async but single-text).
const rust = RustTokenizer.fromString(tokenizerJsonText);
const rustRuns: number[] = [];
for (let i = 0; i < 2; i++) {
  rustRuns.push(
    await time(async () => {
      for (const text of texts) await rust.encode(text);
    }),
  );
}

const js = new TokenizersJs(JSON.parse(tokenizerJsonText), {});
const jsRuns: number[] = [];
for (let i = 0; i < 2; i++) {
  jsRuns.push(
    await time(() => {
      for (const text of texts) js.encode(text);
    }),
  );
}

const mbps = (seconds: number) => megabytes / seconds;
const result = {
  corpus_mb: Number(megabytes.toFixed(2)),
  documents: texts.length,
  ours_mb_per_s: Number(mbps(median(steady)).toFixed(2)),
  ours_first_pass_mb_per_s: Number(mbps(firstPass).toFixed(2)),
  rust_binding_mb_per_s: Number(mbps(Math.min(...rustRuns)).toFixed(2)),
  tokenizers_js_mb_per_s: Number(mbps(Math.min(...jsRuns)).toFixed(2)),
  ratio_vs_rust_binding: Number((Math.min(...rustRuns) / median(steady)).toFixed(2)),
  ratio_vs_tokenizers_js: Number((Math.min(...jsRuns) / median(steady)).toFixed(2)),
  first_pass_ratio_vs_rust_binding: Number((Math.min(...rustRuns) / firstPass).toFixed(2)),
  json_parse_ms: Number((parseSeconds * 1000).toFixed(1)),
  load_ms_cold: Number((coldLoad * 1000).toFixed(1)),
  load_ms_warm_median: Number((median(warmLoads) * 1000).toFixed(1)),
};

const rows: Array<[string, string]> = [
  ['corpus', `${result.corpus_mb} MB in ${result.documents} documents`],
  ['@pythiajs/tokenizer (steady state)', `${result.ours_mb_per_s} MB/s`],
  ['@pythiajs/tokenizer (first pass, empty cache)', `${result.ours_first_pass_mb_per_s} MB/s`],
  ['tokenizers (Rust binding)', `${result.rust_binding_mb_per_s} MB/s`],
  ['@huggingface/tokenizers (tokenizers.js)', `${result.tokenizers_js_mb_per_s} MB/s`],
  [
    'ratio vs Rust binding (target ≥ 5)',
    `${result.ratio_vs_rust_binding}x (first pass ${result.first_pass_ratio_vs_rust_binding}x)`,
  ],
  ['ratio vs tokenizers.js (target ≥ 10)', `${result.ratio_vs_tokenizers_js}x`],
  [
    'tokenizer.json load after JSON.parse (target < 50 ms)',
    `${result.load_ms_cold} ms cold, ${result.load_ms_warm_median} ms warm`,
  ],
];
const width = Math.max(...rows.map(([k]) => k.length));
for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
console.log(JSON.stringify({ bench: 'tokenizer-encode', ...result }));
