/**
 * Random-access bytes: a file on disk, a `Blob`, a cached Hub download or an HTTP resource read
 * with Range requests. Readers (safetensors, ZIP, pickle) take one of these so that a tensor's
 * bytes are read where they lie and handed on, never the whole file held twice in memory.
 */
export interface ByteSource {
  /** Total length in bytes. */
  readonly size: number;
  /** Bytes `[offset, offset + length)`. Rejects when the range is outside the source. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A source over bytes already in memory (tests, small files). */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: async (offset, length) => {
      checkRange(offset, length, bytes.length);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** A source over a `Blob` or `File` (browsers, and Node's `fs.openAsBlob`). */
export function blobSource(blob: Blob): ByteSource {
  return {
    size: blob.size,
    read: async (offset, length) => {
      checkRange(offset, length, blob.size);
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
  };
}

export function checkRange(offset: number, length: number, size: number): void {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > size
  ) {
    throw new RangeError(
      `read of [${offset}, ${offset + length}) is outside a source of ${size} bytes`,
    );
  }
}
