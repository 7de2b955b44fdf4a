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
    for (let position = 0; position < 4; position++) {
      const { values, indices } = miniStep(device, weights, cache, position);
      await values.read();
      await indices.read();
      values.dispose();
      indices.dispose();
      counts.push(device.stats.buffersCreated);
    }
    // Steps 2, 3 and 4 reuse the first step's tensors, staging buffers and uniform ring.
    expect(counts[1]).toBe(counts[0]);
    expect(counts[3]).toBe(counts[0]);
    expect(device.stats.buffersReused).toBeGreaterThan(30);
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
    expect(timings.map((t) => t.label)).toEqual(['gemm', 'topk']);
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
