/**
 * The server sent nothing for `ms`: no response headers (`answer`) or no bytes of the body
 * (`bytes`). Internal: `HubClient` retries it and, when the retries are spent, turns it into a
 * `HubTimeoutError`.
 */
export class SilenceError extends Error {
  override name = 'SilenceError';
  constructor(
    readonly ms: number,
    readonly waitingFor: 'answer' | 'bytes',
  ) {
    super(`no ${waitingFor} for ${ms / 1000} s`);
  }
}

/** The longest delay `setTimeout` keeps (2^31 - 1 ms); a longer one would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;
const ignore = () => {};

/**
 * One HTTP exchange (a request, its redirects and its body) under one `AbortController`, which
 * the caller's signal, the answer timer and the stall timer all abort. Browsers and Node give
 * `fetch` no timeout we can rely on (Node's is 300 s per phase, browsers' none at all), so every
 * wait here is raced against a timer; the race settles even when a custom `fetch` ignores the
 * signal. Aborting the controller also cancels a stalled body, which releases its connection.
 *
 * Every timer is cleared as soon as its wait settles, and {@link close} detaches from the
 * caller's signal, so nothing keeps Node alive or leaks listeners on a long-lived signal.
 */
export class TimedExchange {
  private readonly controller = new AbortController();
  private readonly detach: () => void;

  constructor(callerSignal: AbortSignal | undefined) {
    if (!callerSignal) {
      this.detach = ignore;
      return;
    }
    const forward = () => this.controller.abort(callerSignal.reason);
    if (callerSignal.aborted) forward();
    else callerSignal.addEventListener('abort', forward, { once: true });
    this.detach = () => callerSignal.removeEventListener('abort', forward);
  }

  /** The signal to hand to `fetch`. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /**
   * `work` (e.g. a `fetch` and its redirects), given up on with a {@link SilenceError} when it
   * has not settled after `ms`, and with the caller's reason as soon as the caller aborts.
   * `ms` of `Infinity` waits for ever.
   */
  within<T>(work: Promise<T>, ms: number, waitingFor: 'answer' | 'bytes'): Promise<T> {
    const signal = this.controller.signal;
    if (signal.aborted) {
      work.catch(ignore);
      return Promise.reject(signal.reason);
    }
    return new Promise<T>((resolve, reject) => {
      const timer = Number.isFinite(ms)
        ? setTimeout(
            () => this.controller.abort(new SilenceError(ms, waitingFor)),
            Math.min(Math.max(ms, 0), MAX_TIMER_MS),
          )
        : undefined;
      const settle = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        settle();
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      work.then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
    });
  }

  /**
   * The chunks of a body, each awaited for at most `ms`. Leaving early (a stall, the consumer's
   * own error, a `break`) cancels the body, so the server's connection is closed, not left open.
   * The consumer's work between chunks (writing to disk) is not counted as the server's silence.
   */
  async *chunks(response: Response, ms: number): AsyncGenerator<Uint8Array> {
    if (!response.body) return;
    const reader = response.body.getReader();
    let finished = false;
    try {
      for (;;) {
        const { done, value } = await this.within(reader.read(), ms, 'bytes');
        if (done) {
          finished = true;
          return;
        }
        if (value.length > 0) yield value;
      }
    } finally {
      if (!finished) {
        reader.cancel().catch(ignore);
        this.controller.abort(new Error('the body was abandoned'));
      }
    }
  }

  /** A whole body (an API answer), each chunk awaited for at most `ms`. */
  async bytes(response: Response, ms: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for await (const chunk of this.chunks(response, ms)) parts.push(chunk);
    return concat(parts);
  }

  /** At most `limit` bytes from the start of a body (to describe an error page); never throws. */
  async head(response: Response, ms: number, limit: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let length = 0;
    try {
      for await (const chunk of this.chunks(response, ms)) {
        parts.push(chunk);
        length += chunk.length;
        if (length >= limit) break;
      }
    } catch {
      // What arrived is enough to describe the page; the status says the rest.
    }
    return concat(parts).subarray(0, limit);
  }

  /** Ends the exchange: cancels whatever is still in flight and detaches from the caller's signal. */
  close(): void {
    this.detach();
    this.controller.abort(new Error('the exchange is closed'));
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
