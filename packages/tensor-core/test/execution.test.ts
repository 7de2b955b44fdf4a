import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attention,
  type Device,
  embedding,
  FeatureUnavailableError,
  f32ArrayToF16Bits,
  layerNorm,
  matmul,
  splitQkvRotary,
  type Tensor,
  topk,
} from '../src/index.js';
import { ReadbackPacer, throttleDawnPolling } from '../src/readback-pacer.js';
import { testDevice } from './gpu.js';
import { randomFloats } from './numbers.js';

/** A miniature decoder step: every kind of kernel, intermediates disposed as a model would. */
function miniStep(
  device: Device,
  weights: Record<string, Tensor<'f32' | 'f16'>>,
  cache: Tensor<'f32'>[],
  position: number,
) {
  const ids = device.tensor(new Uint32Array([position % 50]));
  const hidden = embedding(ids, weights.embed!);
  const normed = layerNorm(hidden, weights.lnW!, weights.lnB!);
  const qkv = matmul(normed, weights.qkv!);
  const q = splitQkvRotary(qkv, cache[0]!, cache[1]!, {
    heads: 2,
    rotaryDims: 4,
    positionOffset: position,
  });
  const context = attention(q, cache[0]!, cache[1]!, { positionOffset: position });
  const mlp = matmul(normed, weights.up!, undefined, { activation: 'gelu' });
  const attended = matmul(context, weights.dense!, undefined, { residual: hidden });
  const out = matmul(mlp, weights.down!, undefined, { residual: attended });
  const logits = matmul(out, weights.unembed!);
  const best = topk(logits, 5);
  for (const t of [ids, hidden, normed, qkv, q, context, mlp, attended, out, logits]) t.dispose();
  return best;
}

describe('execution: buffer pool, uniform ring, profiling', () => {
  let device: Device;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  it('creates no GPU buffers for a repeated step after the first one', async () => {
    const f16 = (n: number, k: number, seed: number) =>
      device.tensor(f32ArrayToF16Bits(randomFloats(n * k, seed, -0.3, 0.3)), [n, k]);
    const weights = {
      embed: device.tensor(randomFloats(50 * 16, 1), [50, 16]),
      lnW: device.tensor(new Float32Array(16).fill(1)),
      lnB: device.tensor(new Float32Array(16)),
      qkv: f16(48, 16, 2),
      dense: f16(16, 16, 3),
      up: f16(64, 16, 4),
      down: f16(16, 64, 5),
      unembed: f16(50, 16, 6),
    };
    const cache = [device.zeros([2, 8, 8]), device.zeros([2, 8, 8])];
    const counts: number[] = [];
    const bindGroups: number[] = [];
    for (let position = 0; position < 5; position++) {
      const { values, indices } = miniStep(device, weights, cache, position);
      await values.read();
      await indices.read();
      values.dispose();
      indices.dispose();
      counts.push(device.stats.buffersCreated);
      bindGroups.push(device.stats.bindGroupsCreated);
    }
    // Steps 2, 3 and 4 reuse the first step's tensors, staging buffers and uniform ring.
    expect(counts[1]).toBe(counts[0]);
    expect(counts[3]).toBe(counts[0]);
    expect(device.stats.buffersReused).toBeGreaterThan(30);
    // Once the pool hands out the same buffers in the same order, the bind groups are reused too
    // (the uniforms, different every step, are a dynamic offset into the ring).
    expect(bindGroups[4]).toBe(bindGroups[3]);
    expect(bindGroups[0]).toBeGreaterThanOrEqual(10);
  });

  it('computes the same after trimPool destroyed the buffers of cached bind groups', async () => {
    const step = async () => {
      const x = device.tensor(new Float32Array([3, 4]), [1, 2]);
      const w = device.tensor(new Float32Array([2, 0, 0, 2]), [2, 2]);
      const y = matmul(x, w);
      x.dispose();
      w.dispose();
      const values = Array.from(await y.read());
      y.dispose();
      return values;
    };
    expect(await step()).toEqual([6, 8]);
    expect(await step()).toEqual([6, 8]);
    await device.trimPool();
    expect(await step()).toEqual([6, 8]);
  });

  it('gives zeros() a cleared buffer even when it reuses a dirty one', async () => {
    const dirty = device.tensor(new Float32Array([1, 2, 3, 4, 5, 6, 7]));
    await dirty.read();
    dirty.dispose();
    const reusedBefore = device.stats.buffersReused;
    const z = device.zeros([7]);
    expect(device.stats.buffersReused).toBe(reusedBefore + 1);
    expect(Array.from(await z.read())).toEqual([0, 0, 0, 0, 0, 0, 0]);
    const t = device.tensor(new Float32Array([9, 9, 9, 9, 9, 9, 9]));
    z.dispose();
    expect(Array.from(await t.read())).toEqual([9, 9, 9, 9, 9, 9, 9]);
  });

  it('keeps the uniforms of many dispatches in one submit apart (ring slots)', async () => {
    // 3000 dispatches with different uniforms between two reads: more than one ring's worth.
    const x = device.tensor(new Float32Array([1, 2, 3]));
    const w = device.tensor(new Float32Array([1, 1, 1]), [1, 3]);
    let acc = matmul(
      x.device.tensor(new Float32Array([0]), [1, 1]),
      device.tensor(new Float32Array([0]), [1, 1]),
    );
    for (let i = 0; i < 1500; i++) {
      const y = matmul(device.tensor(new Float32Array([1, 2, 3]), [1, 3]), w, undefined, {
        residual: acc,
      });
      acc.dispose();
      acc = y;
    }
    expect(Array.from(await acc.read())).toEqual([6 * 1500]);
  });

  it('times each kernel with timestamp-query when profiling', async () => {
    expect(device.features.timestampQuery).toBe(true);
    const x = device.tensor(randomFloats(8 * 64, 1), [8, 64]);
    const w = device.tensor(f32ArrayToF16Bits(randomFloats(32 * 64, 2)), [32, 64]);
    device.startProfiling();
    const y = matmul(x, w, undefined, { activation: 'gelu' });
    const best = topk(y, 3);
    const timings = await device.stopProfiling();
    // The GEMM variant matmul picks depends on the adapter (gemm-lanes on CPU adapters).
    expect(timings.map((t) => t.label)).toEqual([expect.stringMatching(/^gemm/), 'topk']);
    for (const t of timings) expect(t.nanoseconds).toBeGreaterThan(0);
    // Kernels after stopProfiling are not timed.
    best.values.dispose();
    matmul(x, w);
    device.startProfiling();
    expect(await device.stopProfiling()).toEqual([]);
  });

  it('refuses to profile without timestamp-query, saying how to get it', async () => {
    const plain = await testDevice({ disableTimestampQuery: true });
    expect(() => plain.startProfiling()).toThrow(FeatureUnavailableError);
    plain.destroy();
  });
});

describe('read-back waits (Node)', () => {
  it('sleep before mapping only for work seen before, and less than it took', () => {
    const pacer = new ReadbackPacer();
    expect(pacer.delay('step')).toBe(0);
    pacer.record('step', 40);
    expect(pacer.delay('step')).toBe(0); // a first run is often slower than the next ones
    pacer.record('step', 30);
    pacer.record('step', 45);
    // Most of the shortest recent wait, less a millisecond of timer slack.
    expect(pacer.delay('step')).toBe(Math.floor(30 * 0.85 - 1));
    expect(pacer.delay('other work')).toBe(0);
    pacer.record('tiny', 1.5);
    pacer.record('tiny', 1.5);
    expect(pacer.delay('tiny')).toBe(0); // not worth a timer
  });

  it('space out only Dawn-like polls, only while a read waits, then restore setImmediate', async () => {
    const real = globalThis.setImmediate;
    const end = throttleDawnPolling();
    expect(globalThis.setImmediate).not.toBe(real);
    const custom = promisify.custom;
    expect((globalThis.setImmediate as unknown as Record<symbol, unknown>)[custom]).toBe(
      (real as unknown as Record<symbol, unknown>)[custom],
    );
    await new Promise((resolve) => setTimeout(resolve, 5)); // past the first, unthrottled polls
    const order: string[] = [];
    // Like Dawn's: a nameless native function (a bound one prints as native code).
    const poll = Object.defineProperty(
      (() => {
        order.push('poll');
      }).bind(null),
      'name',
      { value: '' },
    );
    await new Promise<void>((resolve) => {
      globalThis.setImmediate(poll);
      globalThis.setImmediate(() => order.push('js'));
      setTimeout(resolve, 30);
    });
    expect(order).toEqual(['js', 'poll']);
    end();
    end(); // once only
    expect(globalThis.setImmediate).toBe(real);
  });

  it('leaves the global setImmediate alone unless the device was created to throttle', async () => {
    const real = globalThis.setImmediate;
    for (const throttle of [false, true]) {
      // Dawn fetches the global for each poll: a spy installed as the global sees every poll,
      // and whether it was still the global when called.
      const globals: boolean[] = [];
      const spy = function (this: unknown, ...args: unknown[]) {
        globals.push(globalThis.setImmediate === spy);
        return Reflect.apply(real, this, args);
      } as unknown as typeof setImmediate;
      globalThis.setImmediate = spy;
      const device = await testDevice({ throttleDawnPolling: throttle });
      try {
        const t = device.tensor(new Float32Array(1 << 20).fill(1));
        await t.read();
        await t.read();
        expect(globals.length).toBeGreaterThan(0);
        expect(globals.every(Boolean)).toBe(!throttle);
        expect(globalThis.setImmediate).toBe(spy);
      } finally {
        globalThis.setImmediate = real;
        device.destroy();
      }
    }
  });
});
