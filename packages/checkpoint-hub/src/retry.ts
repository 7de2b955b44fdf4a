/**
 * The retries left to one operation (an API call, a range read, a download). Only failures in a
 * row without progress count: a download that keeps gaining bytes over a flaky link goes on
 * until it is complete, while a server that gives nothing is given up on after `retries + 1`
 * attempts. Timeouts have their own, smaller allowance, because each already cost a full timeout.
 */
export class RetryBudget {
  /** Every attempt made, progress or not: the number the final error reports. */
  attempts = 0;
  private failures = 0;
  private silences = 0;

  constructor(
    private readonly retries: number,
    private readonly timeoutRetries: number,
  ) {}

  /** Counts a failed attempt; `false` when no retry is left. */
  fail(timeout: boolean): boolean {
    this.failures++;
    if (timeout) this.silences++;
    return this.failures <= this.retries && this.silences <= this.timeoutRetries;
  }

  /** The attempt brought new bytes: what failed before no longer counts. */
  progressed(): void {
    this.failures = 0;
    this.silences = 0;
  }

  /** Failures in a row so far, to size the backoff. */
  get streak(): number {
    return this.failures;
  }
}

/** Exponential backoff with jitter: `firstMs` × 2^(streak - 1), ±50%, at most 30 s. */
export function backoff(firstMs: number, streak: number): number {
  const base = firstMs * 2 ** Math.max(0, streak - 1);
  return Math.min(30_000, base / 2 + Math.random() * base);
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `Retry-After` in milliseconds: seconds, or an HTTP date. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
