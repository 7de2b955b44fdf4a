// Decides how long a read-back sleeps before it asks WebGPU for the map. Separate because it is a
// workaround for one runtime: Dawn's Node binding (the `webgpu` package) settles a pending promise
// (mapAsync, onSubmittedWorkDone, popErrorScope) by polling. While any is pending it calls
// `wgpuInstanceProcessEvents` from a `setImmediate` callback that schedules itself again, so the
// event loop never blocks and the main thread spins for as long as the GPU works: on a software
// adapter that takes a core from the GPU's own threads, and anywhere it is CPU time per step.
//
// Nothing is pending while a timer sleeps, so the loop blocks. A read whose work was seen before
// (same dispatches, workgroups, submits and size: a decode step, a prefill of the same length)
// sleeps most of the time that work took recently, then maps and polls only for the rest; and
// where the program allows it (`DeviceOptions.throttleDawnPolling`), Dawn's polls are spaced out
// once the wait is long.
//
// In browsers the map is awaited directly (no polling there), so a device uses this in Node only.

// Of the shortest recent wait for the same work, the part slept; the rest is polled.
const SLEEP_FRACTION = 0.85;
// Timers wake up late by about a millisecond; sleeps shorter than this are not worth a timer.
const TIMER_SLACK_MS = 1;
const MIN_SLEEP_MS = 2;
// Waits remembered per kind of work, and how many before one is trusted (the first run of some
// work is often slower: memory first touched, caches cold), and kinds of work remembered.
const HISTORY = 4;
const TRUSTED_AFTER = 2;
const MAX_KINDS = 256;

/**
 * Remembers how long recent read-backs of each kind of work waited (submit to mapped), and
 * suggests how long the next one may sleep first. It learns from the shortest recent wait, so a
 * GPU that got faster is followed within a few reads: a read that slept too long measures a wait
 * of its sleep plus a little, and the next sleeps less.
 */
export class ReadbackPacer {
  readonly #waits = new Map<string, number[]>();

  /** Milliseconds to sleep before mapping a read-back of `work` (0: map at once). */
  delay(work: string): number {
    const waits = this.#waits.get(work);
    if (waits === undefined || waits.length < TRUSTED_AFTER) return 0;
    let shortest = Number.POSITIVE_INFINITY;
    for (const wait of waits) if (wait < shortest) shortest = wait;
    const ms = Math.floor(shortest * SLEEP_FRACTION - TIMER_SLACK_MS);
    return ms >= MIN_SLEEP_MS ? ms : 0;
  }

  /** Keeps how long a read-back of `work` waited from its submit until it was mapped. */
  record(work: string, waitedMs: number): void {
    let waits = this.#waits.get(work);
    if (waits === undefined) {
      if (this.#waits.size >= MAX_KINDS) this.#waits.clear();
      waits = [];
      this.#waits.set(work, waits);
    }
    if (waits.length === HISTORY) waits.shift();
    waits.push(waitedMs);
  }
}

// Of a map wait, the first milliseconds poll at full speed (a fast GPU is never slowed down);
// after that Dawn's polls run once per timer tick.
const FREE_POLLING_MS = 2;
const THROTTLED_POLL_MS = 1;

// Node's setImmediate, typed here so the package builds without Node's types.
type Immediate = (callback: (...args: never[]) => void, ...args: unknown[]) => unknown;
const host = globalThis as unknown as { setImmediate?: Immediate };
// The real setImmediate while the wrapper stands in for it, and the wrapper.
let replaced: Immediate | undefined;
let wrapper: Immediate | undefined;
let waiting = 0;
let waitingSince = 0;

// Dawn's poll is the only native function without a name or arguments handed to setImmediate.
function isDawnPoll(callback: unknown, args: number): boolean {
  return (
    args === 0 &&
    typeof callback === 'function' &&
    callback.name === '' &&
    Function.prototype.toString.call(callback).endsWith('{ [native code] }')
  );
}

/**
 * Spaces out Dawn's polls while a read-back's map is pending, once it has waited
 * {@link FREE_POLLING_MS}: the binding fetches the global `setImmediate` for every poll it
 * schedules, so while any read waits that global is a wrapper which hands Dawn's own callback
 * (a nameless native function) to a 1 ms timer instead, and every other callback to the real
 * `setImmediate` untouched. Returns the call that ends this read's wait; the global is restored
 * when no read waits. Replacing a global is the program's decision, not a library's: a device
 * does this only when created with `throttleDawnPolling: true` (the `pythia` CLI does).
 */
export function throttleDawnPolling(): () => void {
  if (waiting === 0) {
    waitingSince = performance.now();
    const real = host.setImmediate;
    if (typeof real === 'function' && real !== wrapper) {
      const stand = function (
        this: unknown,
        callback: (...args: never[]) => void,
        ...args: unknown[]
      ) {
        if (
          waiting > 0 &&
          isDawnPoll(callback, args.length) &&
          performance.now() - waitingSince >= FREE_POLLING_MS
        ) {
          return setTimeout(callback, THROTTLED_POLL_MS);
        }
        return Reflect.apply(real, this, [callback, ...args]);
      };
      // Keeps what hangs off the real one (util.promisify.custom, __promisify__).
      for (const key of Reflect.ownKeys(real)) {
        if (key === 'length' || key === 'name' || key === 'prototype') continue;
        const descriptor = Object.getOwnPropertyDescriptor(real, key);
        if (descriptor) Object.defineProperty(stand, key, descriptor);
      }
      replaced = real;
      wrapper = stand;
      host.setImmediate = stand;
    }
  }
  waiting++;
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    waiting--;
    if (waiting === 0 && replaced !== undefined) {
      // Left alone if someone else has replaced it since.
      if (host.setImmediate === wrapper) host.setImmediate = replaced;
      replaced = undefined;
      wrapper = undefined;
    }
  };
}
