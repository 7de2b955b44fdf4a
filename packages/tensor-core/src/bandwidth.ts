import type { Device } from './device.js';
import { STREAM_READ_WORKGROUPS, streamReadWgsl } from './kernels/stream-read.js';

/**
 * The adapter's streaming-read bandwidth in GB/s, as a WGSL kernel sees it: the best of
 * `repeats` timed passes of a kernel that sums a `bytes`-long buffer with 16-byte loads. It is the
 * yardstick benchmarks divide by ("GEMV reads weights at 70% of what this adapter can read").
 * The best rather than the median: on a shared machine the slow samples measure the neighbours.
 *
 * @example
 * ```ts
 * const gbps = await measureReadBandwidth(device); // e.g. 2.1 on lavapipe, ~3000 on an H100
 * ```
 */
export async function measureReadBandwidth(
  device: Device,
  options: { bytes?: number; repeats?: number; passes?: number } = {},
): Promise<number> {
  const bytes =
    Math.min(options.bytes ?? 128 * 1024 * 1024, device.limits.maxStorageBufferBindingSize) & ~15;
  const source = device.zeros([bytes / 4], 'u32');
  const sink = device.zeros([STREAM_READ_WORKGROUPS * 256], 'u32');
  const run = (passes: number) => {
    for (let i = 0; i < passes; i++) {
      device.dispatch({
        code: streamReadWgsl,
        bindings: [source, sink],
        uniforms: new Uint32Array([bytes / 16]),
        workgroups: [STREAM_READ_WORKGROUPS],
      });
    }
    return sink.read();
  };
  try {
    await run(1); // compile and warm up
    const passes = options.passes ?? 3;
    let best = 0;
    for (let r = 0; r < (options.repeats ?? 3); r++) {
      const start = performance.now();
      await run(passes);
      best = Math.max(best, (bytes * passes) / ((performance.now() - start) / 1000) / 1e9);
    }
    return best;
  } finally {
    source.dispose();
    sink.dispose();
  }
}
