import type { DownloadTarget } from '../../src/index.js';

/** A download target in memory. */
export class MemoryTarget implements DownloadTarget {
  private chunks: Uint8Array[] = [];
  length = 0;
  resets = 0;

  append(chunk: Uint8Array): void {
    this.chunks.push(chunk.slice());
    this.length += chunk.length;
  }

  reset(): void {
    this.chunks = [];
    this.length = 0;
    this.resets++;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}
