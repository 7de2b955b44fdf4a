import { add, type Device, type Tensor } from '@pythiajs/tensor-core';
import type { NeoXConfig } from './config.js';
import { ForwardError } from './errors.js';

/**
 * Keys and values of every layer for the tokens seen so far: f32 `[heads, maxPositions, headDim]`
 * per layer, rows `0 … length − 1` valid. A forward pass with a cache appends its tokens at
 * `length` (their positions continue from there) and attends to everything cached before.
 *
 * @example
 * ```ts
 * const cache = model.createCache();
 * await model.forward(promptIds, { cache }); // prefill
 * await model.forward([nextId], { cache }); // decode one token
 * ```
 */
export class KVCache {
  /** Tokens cached. */
  length = 0;

  private constructor(
    readonly device: Device,
    readonly keys: Tensor<'f32'>[],
    readonly values: Tensor<'f32'>[],
    /** Most tokens the cache can hold. */
    readonly capacity: number,
  ) {}

  static create(device: Device, config: NeoXConfig, capacity = config.maxPositions): KVCache {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > config.maxPositions) {
      throw new ForwardError(
        `a KV cache holds 1 to ${config.maxPositions} positions (the model's context), not ${capacity}`,
      );
    }
    const shape = [config.numHeads, capacity, config.headDim];
    const keys: Tensor<'f32'>[] = [];
    const values: Tensor<'f32'>[] = [];
    for (let l = 0; l < config.numLayers; l++) {
      keys.push(device.zeros(shape));
      values.push(device.zeros(shape));
    }
    return new KVCache(device, keys, values, capacity);
  }

  /** Bytes of GPU memory the cache holds. */
  get byteLength(): number {
    return this.keys.reduce((n, k) => n + 2 * k.byteLength, 0);
  }

  /** Forgets every token (the buffers stay allocated for the next sequence). */
  reset(): void {
    this.length = 0;
  }

  /** Keeps the first `length` tokens, e.g. to regenerate from an earlier point. */
  truncate(length: number): void {
    if (!Number.isInteger(length) || length < 0 || length > this.length) {
      throw new ForwardError(`cannot truncate a cache of ${this.length} tokens to ${length}`);
    }
    this.length = length;
  }

  /** An independent copy, to branch several continuations from one prompt. */
  clone(): KVCache {
    const zero = this.device.zeros(this.keys[0]!.shape);
    const copy = (t: Tensor<'f32'>) => add(t, zero);
    const clone = new KVCache(
      this.device,
      this.keys.map(copy),
      this.values.map(copy),
      this.capacity,
    );
    zero.dispose();
    clone.length = this.length;
    return clone;
  }

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t.dispose();
  }
}
