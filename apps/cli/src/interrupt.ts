const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Ctrl-C (or SIGTERM, SIGHUP) during work that can stop cleanly at its next step (generation
 * between two tokens): the signal aborts `signal` instead of killing the process mid-write, the
 * work finishes its output (see `StreamedText`), and {@link Interrupt.exitAsSignalled} then ends
 * the process by that signal, so that a shell sees an interrupted command (status 130 for Ctrl-C).
 */
export interface Interrupt {
  /** Aborted at the first signal. */
  signal: AbortSignal;
  /** Stops listening; a later signal ends the process as usual. */
  release(): void;
  /** After `release`: ends the process by the signal received, if one was. */
  exitAsSignalled(): void;
}

export function catchInterrupt(): Interrupt {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  // Repeats (a terminal's Ctrl-C reaches the relay process and this one) are the same request.
  const onSignal = (signal: NodeJS.Signals) => {
    received ??= signal;
    controller.abort();
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  return {
    signal: controller.signal,
    release: () => {
      for (const signal of SIGNALS) process.off(signal, onSignal);
    },
    exitAsSignalled: () => {
      // With no listener left, the default action ends the process by this signal.
      if (received) process.kill(process.pid, received);
    },
  };
}
