import type { SampledToken, TokenHistory } from '../src/index.js';

/** A row of logits given exactly (pick values that float32 represents exactly). */
export const row = (values: number[]) => Float32Array.from(values);

/** Logits whose softmax is `probs` (up to float32 rounding of the logs). */
export const logitsOf = (probs: number[]) => Float32Array.from(probs, Math.log);

/** Shorthand for a history. */
export const history = (tokens: number[], generatedFrom: number): TokenHistory => ({
  tokens,
  generatedFrom,
});

export const NEG = Number.NEGATIVE_INFINITY;

/** How often each id was drawn in `n` calls. */
export function counts(
  sample: (logits: Float32Array) => SampledToken,
  logits: Float32Array,
  n: number,
): number[] {
  const c = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < n; i++) c[sample(logits).id]!++;
  return c;
}

/**
 * Pearson's chi-square statistic of `observed` against `expected` probabilities. Categories with
 * expected probability 0 must never be observed (checked by the caller with `zeroWhereImpossible`).
 */
export function chiSquare(observed: number[], expected: number[]): number {
  const n = observed.reduce((a, b) => a + b, 0);
  let chi2 = 0;
  expected.forEach((p, i) => {
    if (p > 0) chi2 += (observed[i]! - n * p) ** 2 / (n * p);
  });
  return chi2;
}

/** Ids that `expected` gives probability 0 and that were drawn anyway. */
export function drawnImpossible(observed: number[], expected: number[]): number[] {
  return observed.flatMap((o, i) => ((expected[i] ?? 0) === 0 && o > 0 ? [i] : []));
}

/** Critical values of chi-square at p = 0.001, by degrees of freedom (scipy.stats.chi2.ppf). */
export const CHI2_999: Record<number, number> = {
  1: 10.828,
  2: 13.816,
  3: 16.266,
  4: 18.467,
  39: 72.055,
};

/** Normalizes weights to probabilities. */
export const normalize = (w: number[]) => {
  const s = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / s);
};
