/**
 * Random-access bytes: a file on disk, a `Blob`, a cached Hub download or an HTTP resource read
 * with Range requests. Readers (safetensors, ZIP, pickle) take one of these so that a tensor's
 * bytes are read where they lie and handed on, never the whole file held twice in memory.
 */
export interface ByteSource {
  /** Total length in bytes. */
  readonly size: number;
  /**
   * Bytes `[offset, offset + length)`. With `into`, they are written to its start and a view of
   * it is returned: a loader can stream every tensor through one staging buffer instead of
   * allocating (and page-faulting) fresh memory for each. Rejects when the range is outside
   * the source or `into` is too small.
   */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
}

/** `bytes` copied into `into` when given (the reads that cannot write in place). */
export function deliver(bytes: Uint8Array, into?: Uint8Array): Uint8Array {
  if (!into) return bytes;
  if (into.length < bytes.length) {
    throw new RangeError(`a buffer of ${into.length} bytes cannot hold ${bytes.length}`);
  }
  into.set(bytes);
  return into.subarray(0, bytes.length);
}

/** A source over bytes already in memory (tests, small files). */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: async (offset, length, into) => {
      checkRange(offset, length, bytes.length);
      return deliver(bytes.subarray(offset, offset + length), into);
    },
  };
}

/** A source over a `Blob` or `File` (browsers, and Node's `fs.openAsBlob`). */
export function blobSource(blob: Blob): ByteSource {
  return {
    size: blob.size,
    read: async (offset, length, into) => {
      checkRange(offset, length, blob.size);
      return deliver(new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()), into);
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
