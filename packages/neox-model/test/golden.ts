import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One case of a fixture's golden.json (a float64 forward pass with Hugging Face semantics). */
export interface GoldenCase {
  text: string | null;
  ids: number[];
  logits_last: number[];
  logits_head: number[][];
  top5: number[][];
  token_logprobs: number[];
  hidden_last_token: number[][];
  greedy: number[];
}

export const FIXTURES = ['tiny-neox-f16', 'tiny-neox-bin', 'tiny-neox-f32-sharded'] as const;

/** config.json of a one-layer model with tied embeddings (vocabulary 256, width 64), for random weights. */
export const TIED_CONFIG = {
  hidden_size: 64,
  num_attention_heads: 4,
  num_hidden_layers: 1,
  intermediate_size: 256,
  vocab_size: 256,
  rotary_pct: 0.25,
  max_position_embeddings: 64,
  tie_word_embeddings: true,
} as const;

export function fixtureFolder(name: string): string {
  return fileURLToPath(new URL(`../../../fixtures/${name}`, import.meta.url));
}

export function golden(name: string): GoldenCase[] {
  return JSON.parse(readFileSync(`${fixtureFolder(name)}/golden.json`, 'utf8')).cases;
}

/** The tolerance: max |Δlogit| ≤ 2e-3 × max(1, max |logit|). */
export function logitTolerance(reference: ArrayLike<number>): number {
  let max = 1;
  for (let i = 0; i < reference.length; i++) max = Math.max(max, Math.abs(reference[i]!));
  return 2e-3 * max;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    // Equal infinities (masked attention scores) agree; NaN never does.
    if (a[i] === b[i]) continue;
    max = Math.max(
      max,
      Number.isNaN(a[i]! - b[i]!) ? Number.POSITIVE_INFINITY : Math.abs(a[i]! - b[i]!),
    );
  }
  return max;
}

/** log-softmax of `row` at `id`, in float64. */
export function logSoftmaxAt(row: ArrayLike<number>, id: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return row[id]! - max - Math.log(sum);
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}
