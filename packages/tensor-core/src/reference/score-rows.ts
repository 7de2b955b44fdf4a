/**
 * CPU reference of `scoreRows`, in double precision, rounded to f32: for each row of length
 * `cols`, over its first `vocabSize` columns (default all), the 6 numbers of `ROW_SCORE_FIELDS`
 * in that order: log p(target), logsumexp, entropy, rank of the target (ids with a strictly
 * greater logit), argmax (the lowest id on ties), log p(argmax). Without targets, the target's
 * log-probability and rank are NaN.
 *
 * @throws {RangeError} lengths do not match, vocabSize is outside [1, cols], or a target id is
 *   not below vocabSize.
 *
 * @example
 * ```ts
 * scoreRowsReference(new Float32Array([0, Math.log(3)]), 2, [0]);
 * // Float32Array [log 0.25, log 4, 0.562, 1, 1, log 0.75]
 * ```
 */
export function scoreRowsReference(
  logits: ArrayLike<number>,
  cols: number,
  targets?: ArrayLike<number>,
  options: { vocabSize?: number } = {},
): Float32Array<ArrayBuffer> {
  const width = options.vocabSize ?? cols;
  const rows = logits.length / cols;
  if (!Number.isInteger(rows) || !(width >= 1 && width <= cols)) {
    throw new RangeError(`scoreRowsReference: bad lengths (${logits.length}, ${cols}, ${width})`);
  }
  if (targets && targets.length !== rows) {
    throw new RangeError(`scoreRowsReference: ${targets.length} targets for ${rows} rows`);
  }
  const out = new Float32Array(rows * 6);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    let argmax = 0;
    for (let c = 1; c < width; c++) if (logits[row + c]! > logits[row + argmax]!) argmax = c;
    const max = logits[row + argmax]!;
    // Against the max, as the kernel, so that exp never overflows (−∞ logits give e = 0).
    let sum = 0;
    let weighted = 0;
    for (let c = 0; c < width; c++) {
      const d = logits[row + c]! - max;
      const e = Math.exp(d);
      sum += e;
      if (e > 0) weighted += e * d;
    }
    const logSum = Math.log(sum);
    let targetLogprob = Number.NaN;
    let rank = Number.NaN;
    if (targets) {
      const id = targets[r]!;
      if (!(Number.isInteger(id) && id >= 0 && id < width)) {
        throw new RangeError(`scoreRowsReference: targets[${r}] = ${id} is not in [0, ${width})`);
      }
      const logit = logits[row + id]!;
      targetLogprob = logit - max - logSum;
      rank = 0;
      for (let c = 0; c < width; c++) if (logits[row + c]! > logit) rank++;
    }
    out.set([targetLogprob, max + logSum, logSum - weighted / sum, rank, argmax, -logSum], r * 6);
  }
  return out;
}
