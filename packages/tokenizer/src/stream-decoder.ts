/**
 * Turns a stream of token ids into text chunks that never split a UTF-8 character: a token that
 * ends in the middle of a character (byte-level BPE splits emoji and CJK across tokens) is held back
 * until the character completes. The concatenation of all chunks and `flush()` equals
 * `tokenizer.decode(ids)`.
 *
 * @example
 * ```ts
 * const stream = tokenizer.createStreamDecoder();
 * for await (const id of ids) process.stdout.write(stream.push(id));
 * process.stdout.write(stream.flush());
 * ```
 */
export class StreamDecoder {
  // ignoreBOM keeps a leading U+FEFF, as Hugging Face's lossy UTF-8 decoding does.
  private decoder = new TextDecoder('utf-8', { ignoreBOM: true });

  constructor(private readonly bytesOf: (id: number) => Uint8Array | undefined) {}

  /** Adds one id; returns the text it completes (often '', never a partial character). */
  push(id: number): string {
    const bytes = this.bytesOf(id);
    return bytes ? this.decoder.decode(bytes, { stream: true }) : '';
  }

  /** Ends the stream: returns held-back bytes (as U+FFFD if incomplete) and resets the decoder. */
  flush(): string {
    return this.decoder.decode();
  }
}
