/**
 * Plain transcriptions of Hugging Face's warpers (transformers/generation/logits_process.py) on
 * number arrays: whole-row sorts, softmax, cumsum — no partial selection, no shortcuts. The tests
 * compare the sampler's optimized warpers against them on random rows.
 */

const NEG = Number.NEGATIVE_INFINITY;

function softmax(scores: number[]): number[] {
  const max = scores.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
  const e = scores.map((s) => Math.exp(s - max));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / total);
}

/** Ids by ascending score; ties ordered so that, read from the end, lower ids come first. */
function ascending(scores: number[]): number[] {
  return scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]! || b - a);
}

/** `TopKLogitsWarper`: `scores < topk(scores, k)[-1]` → −∞. */
export function refTopK(scores: number[], k: number): number[] {
  const kth = [...scores].sort((a, b) => b - a)[Math.min(k, scores.length) - 1]!;
  return scores.map((s) => (s < kth ? NEG : s));
}

/** `TopPLogitsWarper`: ascending sort, remove cumulative ≤ 1 − p, keep the last one. */
export function refTopP(scores: number[], p: number): number[] {
  const order = ascending(scores);
  const probs = softmax(order.map((i) => scores[i]!));
  const out = [...scores];
  let cumulative = 0;
  order.forEach((id, r) => {
    cumulative += probs[r]!;
    if (cumulative <= 1 - p && r < order.length - 1) out[id] = NEG;
  });
  return out;
}

/** `MinPLogitsWarper`: `probs < min_p * probs.max()` → −∞. */
export function refMinP(scores: number[], minP: number): number[] {
  const probs = softmax(scores);
  const top = probs.reduce((a, b) => Math.max(a, b), 0);
  return scores.map((s, i) => (probs[i]! < minP * top ? NEG : s));
}

/** `TypicalLogitsWarper` with `min_tokens_to_keep = 1`. */
export function refTypical(scores: number[], mass: number): number[] {
  const probs = softmax(scores);
  const logp = probs.map(Math.log);
  const entropy = -probs.reduce((h, p, i) => (p > 0 ? h + p * logp[i]! : h), 0);
  const shifted = logp.map((l) => Math.abs(-l - entropy));
  const order = scores.map((_, i) => i).sort((a, b) => shifted[a]! - shifted[b]! || a - b);
  let cumulative = 0;
  let last = 0;
  for (const id of order) {
    cumulative += probs[id]!;
    if (cumulative < mass) last++;
  }
  last = Math.min(last, order.length - 1);
  const threshold = shifted[order[last]!]!;
  return scores.map((s, i) => (shifted[i]! > threshold && i !== order[0] ? NEG : s));
}
