// Activations kept on the GPU after a run, so that patching from them needs no round trip
// through the CPU: a hook's `set(cache.get(name), …)` reads the entry where it lies.
import { copy, type Tensor } from '@pythiajs/tensor-core';
import { ForwardError } from './errors.js';
import type { Activation } from './hooked-activation.js';

/**
 * Hook points' activations of one run, on the GPU (see `runWithDeviceCache`). Hand an entry to a
 * hook's `set` or `add`: it is read by absolute position, as a CPU cache entry is. `read` brings
 * one back; `dispose` frees them all.
 *
 * @example
 * ```ts
 * const { cache } = await runWithDeviceCache(model, clean, { names: ['blocks.2.hook_resid_pre'] });
 * await runWithHooks(model, corrupt, {
 *   'blocks.2.hook_resid_pre': (a) => a.set(cache.get('blocks.2.hook_resid_pre')!, { pos: 4 }),
 * });
 * cache.dispose();
 * ```
 */
export class DeviceActivationCache {
  readonly #tensors = new Map<string, Tensor<'f32'>>();
  #disposed = false;

  /** @internal Keeps a copy of `t` (the pass frees its own intermediates). */
  keep(name: string, t: Tensor<'f32'>): void {
    this.#tensors.set(name, copy(t));
  }

  /** The activation at `name` on the GPU (freed with the cache: do not dispose it). */
  get(name: string): Tensor<'f32'> | undefined {
    this.#assertAlive();
    return this.#tensors.get(name);
  }

  has(name: string): boolean {
    return this.#tensors.has(name);
  }

  keys(): IterableIterator<string> {
    return this.#tensors.keys();
  }

  get size(): number {
    return this.#tensors.size;
  }

  /** Reads one entry back to the CPU. */
  async read(name: string): Promise<Activation> {
    const t = this.get(name);
    if (!t) throw new ForwardError(`this cache has no ${name}`);
    return { data: await t.read(), shape: [...t.shape] };
  }

  /** Frees every entry's GPU memory. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const t of this.#tensors.values()) t.dispose();
    this.#tensors.clear();
  }

  #assertAlive(): void {
    if (this.#disposed)
      throw new ForwardError('this cache was disposed; run runWithDeviceCache again');
  }
}
