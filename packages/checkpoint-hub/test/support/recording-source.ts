import { type ByteSource, bytesSource } from '../../src/index.js';

/** A source over `bytes` that records every read, to show what a reader fetches. */
export function recording(bytes: Uint8Array): {
  source: ByteSource;
  reads: Array<[number, number]>;
} {
  const inner = bytesSource(bytes);
  const reads: Array<[number, number]> = [];
  return {
    reads,
    source: {
      size: inner.size,
      read: (offset, length) => {
        reads.push([offset, length]);
        return inner.read(offset, length);
      },
    },
  };
}
