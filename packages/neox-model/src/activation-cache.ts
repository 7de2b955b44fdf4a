// What one does with the activation caches of several runs: stack them TransformerLens' way,
// with the batch axis first, or average them for mean ablation (replacing an activation by its
// average over reference runs rather than by zero keeps it where later layers expect it).
import { ForwardError } from './errors.js';
import type { Activation } from './hooked-activation.js';
import type { ActivationCache } from './interpret.js';

/**
 * The mean of a hook point's activation over the runs of `caches` (e.g. `runWithCache` on a
 * batch of reference texts), computed in float64:
 * - `over: 'batch'` (default): per position, over the sequences that reach it → `[pos, …]`
 *   (as long as the longest sequence), for runs of aligned prompts;
 * - `over: 'all'`: over every position of every sequence → one row `[…]` (e.g. `[d_model]`,
 *   `[head, d_head]`), which `set` broadcasts to every position.
 * Hand the result to a hook's `set` (see `HookedActivation`).
 *
 * @example
 * ```ts
 * const { caches } = await runWithCache(model, referenceTexts, { names: ['blocks.2.attn.hook_z'] });
 * const mean = meanActivation(caches, 'blocks.2.attn.hook_z', { over: 'all' }); // [heads, d_head]
 * await runWithHooks(model, ids, {
 *   'blocks.2.attn.hook_z': (a) => a.set(mean.data.subarray(5 * 16, 6 * 16), { head: 5 }),
 * });
 * ```
 * @throws {ForwardError} no cache holds `name`, or shapes differ beyond the position axis, or
 *   `name` is a pattern or score (their key axis grows with the position).
 */
export function meanActivation(
  caches: ActivationCache | readonly ActivationCache[],
  name: string,
  options: { over?: 'batch' | 'all' } = {},
): Activation {
  const list = caches instanceof Map ? [caches] : caches;
  if (/attn\.hook_(pattern|attn_scores)$/.test(name)) {
    throw new ForwardError(
      `${name} has a key axis as long as each position's context; average attn.hook_z or attn.hook_result instead`,
    );
  }
  const activations = list.map((c, i) => {
    const a = c.get(name);
    if (!a) throw new ForwardError(`cache ${i} has no ${name}; run runWithCache with it`);
    return a;
  });
  if (activations.length === 0) throw new ForwardError('meanActivation needs at least one cache');
  const rest = activations[0]!.shape.slice(1);
  const width = rest.reduce((a, b) => a * b, 1);
  for (const a of activations) {
    if (a.shape.length !== rest.length + 1 || a.shape.slice(1).some((d, i) => d !== rest[i])) {
      throw new ForwardError(
        `${name}: the caches' shapes differ ([${a.shape.join(', ')}] vs [?, ${rest.join(', ')}])`,
      );
    }
  }
  const over = options.over ?? 'batch';
  if (over === 'all') {
    const sum = new Float64Array(width);
    let rows = 0;
    for (const a of activations) {
      const n = a.shape[0]!;
      rows += n;
      for (let t = 0; t < n; t++) for (let i = 0; i < width; i++) sum[i]! += a.data[t * width + i]!;
    }
    return { data: Float32Array.from(sum, (s) => s / Math.max(1, rows)), shape: rest };
  }
  if (over !== 'batch')
    throw new ForwardError(`over must be 'batch' or 'all', got ${String(over)}`);
  const positions = Math.max(...activations.map((a) => a.shape[0]!));
  const sum = new Float64Array(positions * width);
  const count = new Float64Array(positions);
  for (const a of activations) {
    for (let t = 0; t < a.shape[0]!; t++) {
      count[t]!++;
      for (let i = 0; i < width; i++) sum[t * width + i]! += a.data[t * width + i]!;
    }
  }
  const data = Float32Array.from(sum, (s, j) => s / count[Math.floor(j / width)]!);
  return { data, shape: [positions, ...rest] };
}

/**
 * One hook point of several runs as TransformerLens' batched cache holds it: `[batch, …]`, the
 * runs' activations one after another (each `caches[i]` from `runWithCache` on a batch). The
 * runs must have the same shape, i.e. the same length.
 *
 * @example
 * ```ts
 * const { caches } = await runWithCache(model, [idsA, idsB], { names: ['blocks.0.attn.hook_pattern'] });
 * stackActivations(caches, 'blocks.0.attn.hook_pattern').shape; // [2, heads, T, T]
 * ```
 * @throws {ForwardError} a cache lacks `name`, or the shapes differ (runs of different lengths:
 *   use each cache alone, or pad the inputs).
 */
export function stackActivations(caches: readonly ActivationCache[], name: string): Activation {
  if (caches.length === 0) throw new ForwardError('stackActivations needs at least one cache');
  const activations = caches.map((c, i) => {
    const a = c.get(name);
    if (!a) throw new ForwardError(`cache ${i} has no ${name}; run runWithCache with it`);
    return a;
  });
  const shape = activations[0]!.shape;
  activations.forEach((a, i) => {
    if (a.shape.length !== shape.length || a.shape.some((d, j) => d !== shape[j])) {
      throw new ForwardError(
        `${name}: run ${i} has shape [${a.shape.join(', ')}] but run 0 [${shape.join(', ')}]; ` +
          'runs of different lengths cannot be stacked (use each cache alone)',
      );
    }
  });
  const size = activations[0]!.data.length;
  const data = new Float32Array(size * activations.length);
  for (const [i, a] of activations.entries()) data.set(a.data, i * size);
  return { data, shape: [activations.length, ...shape] };
}
