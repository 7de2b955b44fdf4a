/**
 * Where a writer puts bytes at positions it chooses: a file written in place (`fileSink` of
 * `@pythiajs/checkpoint-hub/node`), memory ({@link memorySink}), or anything else that can. The
 * counterpart of `ByteSource` for writing, so that a large file (activations of a long run)
 * is written a block at a time, never held whole in memory.
 *
 * Writes may run concurrently, at any positions, in any order; a caller keeps each `bytes`
 * unchanged until its write resolves.
 */
export interface RandomAccessSink {
  /** Writes `bytes` at `position` (bytes from the start); gaps read as zeros until written. */
  write(position: number, bytes: Uint8Array): Promise<void>;
  /** The file is complete: make it what readers see (a file sink renames it into place). */
  close(): Promise<void>;
  /** Discards what was written: no half-written file is left where readers look. */
  abort(): Promise<void>;
}

/** A {@link RandomAccessSink} in memory, with what it holds. */
export interface MemorySink extends RandomAccessSink {
  /** The bytes written so far, up to the furthest byte written (a copy). */
  bytes(): Uint8Array;
  /** `open` until `close` or `abort`. */
  readonly state: 'open' | 'closed' | 'aborted';
}

/**
 * A sink that keeps the bytes in memory, growing as writes reach further: for tests, and in
 * browsers for a file that is then handed on whole (`new Blob([sink.bytes()])`).
 *
 * @example
 * ```ts
 * const sink = memorySink();
 * await sink.write(4, Uint8Array.of(1, 2));
 * await sink.close();
 * sink.bytes(); // Uint8Array [0, 0, 0, 0, 1, 2]
 * ```
 */
export function memorySink(): MemorySink {
  let buffer = new Uint8Array(1024);
  let length = 0;
  let state: MemorySink['state'] = 'open';
  return {
    get state() {
      return state;
    },
    async write(position, bytes) {
      if (state !== 'open')
        throw new Error(`this memory sink is ${state}; it takes no more writes`);
      if (!Number.isSafeInteger(position) || position < 0)
        throw new RangeError(`cannot write at position ${position}`);
      const end = position + bytes.length;
      if (end > buffer.length) {
        const grown = new Uint8Array(Math.max(end, buffer.length * 2));
        grown.set(buffer.subarray(0, length));
        buffer = grown;
      }
      buffer.set(bytes, position);
      length = Math.max(length, end);
    },
    async close() {
      if (state === 'aborted') throw new Error('this memory sink was aborted; it cannot be closed');
      state = 'closed';
    },
    async abort() {
      if (state === 'closed') return;
      state = 'aborted';
      buffer = new Uint8Array(0);
      length = 0;
    },
    bytes: () => buffer.slice(0, length),
  };
}
