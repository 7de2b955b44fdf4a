// One batch configuration measured the way `pythia bench` and the benchmark grid report it: a
// packed prefill of every prompt into one batch KV cache, then greedy decode steps of one token
// per sequence, with the host's share of each step.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { KVCache, NeoXModel } from '@pythiajs/neox-model';
import { argmax } from '@pythiajs/sampler';

/**
 * Milliseconds of CPU the main thread has used: the JavaScript thread's own time (recording
 * kernels, submitting, reading back, Dawn's event polling while it waits, garbage collection),
 * apart from the GPU driver's threads, which on a software adapter are the GPU. Linux reads it
 * from /proc/thread-self/schedstat; elsewhere it is the event loop's active time, which leaves
 * out work between turns of the loop.
 */
export const mainThreadMs: () => number = (() => {
  try {
    const read = () =>
      Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
    if (Number.isFinite(read())) return read;
  } catch {}
  return () => performance.eventLoopUtilization().active;
})();

/** What {@link runBatch} measured. */
interface BatchRun {
  /** The prefill step: every prompt through the model, and the first token of each picked. */
  firstTokenMs: number;
  /** The decode steps after it. */
  decodeMs: number;
  /** Kernels the decode steps dispatched. */
  dispatches: number;
  /** Main-thread CPU time of the decode steps (see {@link mainThreadMs}). */
  jsMs: number;
  /** GPU buffers created during the decode steps (0 when the pool serves every step). */
  buffersCreated: number;
  /** The most bytes of GPU buffers the device held, after each step (weights, cache, pool). */
  gpuBytes: number;
}

/**
 * The prompts a benchmark runs: `batch` sequences of `length` ids spread over the first `vocab`
 * ids, different for each sequence and the same in every run.
 */
export function benchPrompts(batch: number, length: number, vocab: number): number[][] {
  return Array.from({ length: batch }, (_, b) =>
    Array.from({ length }, (_, i) => ((b * length + i) * 7919 + 13) % vocab),
  );
}

/**
 * Prefills the prompts as one packed batch into a batch KV cache of `capacity` positions per
 * sequence, then decodes `steps` greedy tokens for each, one step for all of them: each step one
 * `forwardBatch` with the last logits.
 */
export async function runBatch(
  model: NeoXModel,
  prompts: number[][],
  steps: number,
  capacity: number,
): Promise<BatchRun> {
  const { device } = model;
  const greedy = (logits: Float32Array[]) => logits.map((row) => [argmax(row)]);
  const cache = model.createCache(prompts.map(() => capacity));
  try {
    let gpuBytes = device.stats.bytesAllocated;
    const t0 = performance.now();
    let next = greedy(await readLast(model, prompts, cache));
    const first = performance.now();
    gpuBytes = Math.max(gpuBytes, device.stats.bytesAllocated);
    const dispatches = device.stats.dispatches;
    const buffers = device.stats.buffersCreated;
    const cpuBefore = mainThreadMs();
    for (let s = 0; s < steps; s++) {
      next = greedy(await readLast(model, next, cache));
      gpuBytes = Math.max(gpuBytes, device.stats.bytesAllocated);
    }
    const end = performance.now();
    return {
      firstTokenMs: first - t0,
      decodeMs: end - first,
      dispatches: device.stats.dispatches - dispatches,
      jsMs: mainThreadMs() - cpuBefore,
      buffersCreated: device.stats.buffersCreated - buffers,
      gpuBytes,
    };
  } finally {
    cache.dispose();
  }
}

/**
 * One batch step with the last logits of each sequence (run in several steps by `forwardBatch`
 * when the batch holds more tokens than one step can on this device).
 */
function readLast(model: NeoXModel, inputs: number[][], cache: KVCache): Promise<Float32Array[]> {
  return model.forwardBatch(inputs, { cache, logits: 'last' });
}
