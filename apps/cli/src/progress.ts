import type { LoadProgress } from '@pythiajs/neox-model';
import cliProgress from 'cli-progress';
import { formatBytes } from './format.js';

/** Reports the phases of loading a model; a no-op off a terminal. */
export interface LoadReporter {
  (progress: LoadProgress): void;
  /** Removes the bars (call before writing anything else to stderr). */
  stop(): void;
}

/**
 * Progress bars for downloads and the upload of weights to the GPU, drawn with `cli-progress`
 * on stderr, and only when stderr is a terminal: piped or captured output never gets control
 * characters, and stdout stays clean for `--json`.
 */
export function loadReporter(label: string): LoadReporter {
  if (!process.stderr.isTTY) return Object.assign(() => {}, { stop: () => {} });
  const bars = new cliProgress.MultiBar(
    {
      stream: process.stderr,
      format: '{phase} {label} [{bar}] {percentage}% {done}/{all}',
      barCompleteChar: '█',
      barIncompleteChar: '░',
      hideCursor: true,
      clearOnComplete: true,
      stopOnComplete: false,
      etaBuffer: 50,
      noTTYOutput: false,
    },
    cliProgress.Presets.shades_grey,
  );
  let download: cliProgress.SingleBar | undefined;
  let upload: cliProgress.SingleBar | undefined;
  const report = (progress: LoadProgress) => {
    if (progress.phase === 'download') {
      const payload = {
        phase: 'download',
        label,
        done: formatBytes(progress.loaded),
        all: formatBytes(progress.total),
      };
      download ??= bars.create(progress.total, 0, payload);
      download.setTotal(progress.total);
      download.update(progress.loaded, payload);
    } else if (progress.phase === 'upload') {
      const payload = { phase: 'to GPU  ', label, done: progress.loaded, all: progress.total };
      upload ??= bars.create(progress.total, 0, payload);
      upload.update(progress.loaded, payload);
    }
  };
  return Object.assign(report, { stop: () => bars.stop() });
}

/** A byte-counting bar for `pythia download`; a no-op off a terminal. */
export function bytesBar(label: string): {
  update(loaded: number, total: number): void;
  stop(): void;
} {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: '{label} [{bar}] {percentage}% {done}/{all}',
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_grey,
  );
  let started = false;
  return {
    update(loaded, total) {
      const payload = { label, done: formatBytes(loaded), all: formatBytes(total) };
      if (!started) bar.start(total, loaded, payload);
      started = true;
      bar.setTotal(total);
      bar.update(loaded, payload);
    },
    stop: () => bar.stop(),
  };
}

/** A counting bar (examples done of all); a no-op off a terminal. */
export function countBar(label: string): {
  update(done: number, total: number): void;
  stop(): void;
} {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {value}/{total} · {eta_formatted}`,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_grey,
  );
  let started = false;
  return {
    update(done, total) {
      if (!started) bar.start(total, done);
      started = true;
      bar.update(done);
    },
    stop: () => bar.stop(),
  };
}
