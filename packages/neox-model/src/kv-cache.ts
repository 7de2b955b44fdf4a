import { add, copyCacheRows, type Device, type Tensor } from '@pythiajs/tensor-core';
import type { NeoXConfig } from './config.js';
import { ForwardError } from './errors.js';

/**
 * Keys and values of every layer for the tokens seen so far, for one sequence or a batch of
 * them: f32 `[heads, rows, headDim]` per layer, where sequence i owns the rows
 * `start_i … start_i + capacity_i − 1` (one block per sequence, packed back to back, so a batch
 * of short and long sequences wastes no rows). A forward pass appends each sequence's tokens
 * after its `lengths[i]` cached ones (their positions continue from there) and attends to what
 * that sequence cached before — never to another sequence's rows.
 *
 * @example
 * ```ts
 * const cache = model.createCache();
 * await model.forward(promptIds, { cache }); // prefill
 * await model.forward([nextId], { cache }); // decode one token
 *
 * const batch = model.createCache([64, 64, 64]); // three sequences of up to 64 tokens
 * await model.forwardBatch([promptA, promptB, promptC], { cache: batch, logits: 'last' });
 * ```
 */
export class KVCache {
  readonly #lengths: number[];
  readonly #starts: number[];
  readonly #capacities: number[];

  private constructor(
    readonly device: Device,
    readonly keys: Tensor<'f32'>[],
    readonly values: Tensor<'f32'>[],
    capacities: readonly number[],
  ) {
    this.#capacities = [...capacities];
    this.#starts = [];
    let start = 0;
    for (const capacity of capacities) {
      this.#starts.push(start);
      start += capacity;
    }
    this.#lengths = capacities.map(() => 0);
  }

  /**
   * A cache for one sequence of up to `capacity` positions, or (an array) one sequence per entry
   * with that capacity each.
   */
  static create(
    device: Device,
    config: NeoXConfig,
    capacity: number | readonly number[] = config.maxPositions,
  ): KVCache {
    const capacities = typeof capacity === 'number' ? [capacity] : [...capacity];
    if (capacities.length === 0) {
      throw new ForwardError('a batch KV cache needs at least one sequence');
    }
    for (const c of capacities) {
      if (!Number.isInteger(c) || c < 1 || c > config.maxPositions) {
        throw new ForwardError(
          `a KV cache holds 1 to ${config.maxPositions} positions per sequence (the model's context), not ${c}`,
        );
      }
    }
    const rows = capacities.reduce((a, b) => a + b, 0);
    // Attention reads a layer's keys as one binding.
    const layerBytes = rows * config.numHeads * config.headDim * 4;
    if (layerBytes > device.limits.maxStorageBufferBindingSize) {
      const fits = Math.floor(
        device.limits.maxStorageBufferBindingSize / (config.numHeads * config.headDim * 4),
      );
      throw new ForwardError(
        `a KV cache of ${rows} positions needs ${layerBytes} bytes per layer, over this device's largest binding ` +
          `(${device.limits.maxStorageBufferBindingSize} bytes); give a cache at most ${fits} positions in all (fewer or shorter sequences per batch)`,
      );
    }
    const shape = [config.numHeads, rows, config.headDim];
    const keys: Tensor<'f32'>[] = [];
    const values: Tensor<'f32'>[] = [];
    for (let l = 0; l < config.numLayers; l++) {
      keys.push(device.zeros(shape));
      values.push(device.zeros(shape));
    }
    return new KVCache(device, keys, values, capacities);
  }

  /** How many sequences the cache holds (1 unless created for a batch). */
  get sequences(): number {
    return this.#capacities.length;
  }

  /** Tokens cached per sequence. */
  get lengths(): readonly number[] {
    return [...this.#lengths];
  }

  /** Most tokens each sequence can hold. */
  get capacities(): readonly number[] {
    return [...this.#capacities];
  }

  /** First cache row of each sequence's block (what attention kernels take as `cacheStart`). */
  get starts(): readonly number[] {
    return [...this.#starts];
  }

  /** Tokens cached, for a one-sequence cache. */
  get length(): number {
    return this.#lengths[this.#single('length')]!;
  }

  set length(value: number) {
    this.#lengths[this.#single('length')] = value;
  }

  /** Most tokens the cache can hold, for a one-sequence cache. */
  get capacity(): number {
    return this.#capacities[this.#single('capacity')]!;
  }

  #single(what: string): number {
    if (this.sequences !== 1) {
      throw new ForwardError(
        `this cache holds ${this.sequences} sequences; read lengths[i] or capacities[i] instead of ${what}`,
      );
    }
    return 0;
  }

  /** Records that `added[i]` tokens were appended to sequence i (after the kernels that did). */
  advance(added: readonly number[]): void {
    for (let i = 0; i < added.length; i++) this.#lengths[i]! += added[i]!;
  }

  /** Bytes of GPU memory the cache holds. */
  get byteLength(): number {
    return this.keys.reduce((n, k) => n + 2 * k.byteLength, 0);
  }

  /** Forgets every token of every sequence (the buffers stay allocated for the next ones). */
  reset(): void {
    this.#lengths.fill(0);
  }

  /**
   * Keeps the first `length` tokens of `sequence` (default: the only one), e.g. to regenerate
   * from an earlier point.
   */
  truncate(length: number, sequence = this.#single('truncate')): void {
    const current = this.#lengths[sequence];
    if (current === undefined) {
      throw new ForwardError(`this cache has no sequence ${sequence} (it holds ${this.sequences})`);
    }
    if (!Number.isInteger(length) || length < 0 || length > current) {
      throw new ForwardError(`cannot truncate a sequence of ${current} tokens to ${length}`);
    }
    this.#lengths[sequence] = length;
  }

  /**
   * Copies the first `length` cached tokens of sequence `from` into each sequence of `to` (the
   * keys and values of every layer, on the GPU) and sets their lengths to `length`: they then
   * continue from that prompt as if each had run it, without running it again (scoring several
   * continuations of one context). What the targets cached before is forgotten.
   *
   * @example
   * ```ts
   * const cache = model.createCache([16, 16, 16]);
   * await model.forwardBatch([prompt, [], []], { cache, logits: 'last' });
   * cache.copyPrefix(0, [1, 2], prompt.length);
   * await model.forwardBatch([[a], [b], [c]], { cache }); // three continuations of prompt
   * ```
   * @throws {ForwardError} an index out of range, `from` among `to`, a target listed twice,
   *   `length` beyond what `from` has cached or a target can hold.
   */
  copyPrefix(from: number, to: readonly number[], length: number): void {
    const sequence = (i: number, what: string) => {
      if (!Number.isInteger(i) || i < 0 || i >= this.sequences) {
        throw new ForwardError(
          `copyPrefix: ${what} ${i} is not a sequence of this cache (it holds ${this.sequences}, numbered from 0)`,
        );
      }
      return i;
    };
    sequence(from, 'from');
    for (const t of to) sequence(t, 'target');
    if (to.includes(from)) {
      throw new ForwardError(
        `copyPrefix: sequence ${from} is both the source and a target; copy to other sequences`,
      );
    }
    if (new Set(to).size !== to.length) {
      throw new ForwardError(`copyPrefix: targets [${to.join(', ')}] repeat a sequence`);
    }
    const cached = this.#lengths[from]!;
    if (!Number.isInteger(length) || length < 0 || length > cached) {
      throw new ForwardError(
        `copyPrefix: cannot copy ${length} tokens of sequence ${from}, which has cached ${cached}`,
      );
    }
    for (const t of to) {
      if (length > this.#capacities[t]!) {
        throw new ForwardError(
          `copyPrefix: sequence ${t} holds at most ${this.#capacities[t]} tokens, not ${length}; create the cache with more room for it`,
        );
      }
    }
    const options = { from: this.#starts[from]!, to: to.map((t) => this.#starts[t]!), length };
    for (const t of [...this.keys, ...this.values]) copyCacheRows(t, options);
    for (const t of to) this.#lengths[t] = length;
  }

  /** An independent copy, to branch several continuations from one prompt. */
  clone(): KVCache {
    const zero = this.device.zeros(this.keys[0]!.shape);
    const copy = (t: Tensor<'f32'>) => add(t, zero);
    const clone = new KVCache(
      this.device,
      this.keys.map(copy),
      this.values.map(copy),
      this.#capacities,
    );
    zero.dispose();
    clone.advance(this.#lengths);
    return clone;
  }

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t.dispose();
  }
}
