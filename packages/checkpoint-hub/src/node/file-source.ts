import { open } from 'node:fs/promises';
import { type ByteSource, checkRange } from '../byte-source.js';

/**
 * A file on disk as a {@link ByteSource}: each read is one positioned read, so a tensor goes from
 * the page cache into its typed array (or GPU upload) without a copy of the whole file.
 */
export async function fileSource(path: string): Promise<ByteSource & { close(): Promise<void> }> {
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  return {
    size,
    async read(offset, length, into) {
      checkRange(offset, length, size);
      if (into && into.length < length)
        throw new RangeError(`a buffer of ${into.length} bytes cannot hold ${length}`);
      const out = into ? into.subarray(0, length) : new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw new RangeError(`${path} ended after ${offset + done} bytes`);
        done += bytesRead;
      }
      return out;
    },
    close: () => handle.close(),
  };
}
