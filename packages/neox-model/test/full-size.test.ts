import { readFileSync } from 'node:fs';
import { createDevice, type Device } from '@pythiajs/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  estimateMemory,
  expectedShapes,
  NeoXModel,
  parseNeoXConfig,
  pythiaConfig,
  randomCheckpoint,
} from '../src/index.js';
import { maxAbsDiff } from './golden.js';

const published: { pythia_total: Record<string, number>; check: Record<string, number> } =
  JSON.parse(
    readFileSync(
      new URL('../../../fixtures/reference/third-party-test-vectors.json', import.meta.url),
      'utf8',
    ),
  ).param_counts;

const parameters = (config: ReturnType<typeof pythiaConfig>) =>
  [...expectedShapes(config).values()].reduce(
    (n, shape) => n + shape.reduce((a, b) => a * b, 1),
    0,
  );

describe('every Pythia size', () => {
  it('has exactly the published parameter count', () => {
    for (const [size, total] of Object.entries(published.pythia_total)) {
      expect([size, parameters(pythiaConfig(size))]).toEqual([size, total]);
    }
    // An independent check from another GPT-NeoX implementation: stablelm-base-alpha-3b.
    const stablelm = parseNeoXConfig({
      hidden_size: 4096,
      num_attention_heads: 32,
      num_hidden_layers: 16,
      intermediate_size: 16384,
      vocab_size: 50688,
    });
    expect(parameters(stablelm)).toBe(3637321728);
  });

  it('estimates its GPU memory: 2 bytes per matrix weight in f16, f32 vectors, KV cache and activations', () => {
    const e = estimateMemory(pythiaConfig('410m'), { contextLength: 2048, tokens: 128 });
    // 405 334 016 parameters, of which 24·(4·1024 + 3·1024 + 1024 + 4096 + 1024) + 2·1024 are vectors.
    const vectors = 24 * (4 * 1024 + 3 * 1024 + 1024 + 4096 + 1024) + 2 * 1024;
    expect(e.weights).toBe((405334016 - vectors) * 2 + vectors * 4);
    expect(e.kvCache).toBe(24 * 2 * 16 * 2048 * 64 * 4);
    expect(e.total).toBe(e.weights + e.kvCache + e.activations);
    expect(estimateMemory(pythiaConfig('12b'), { dtype: 'f32' }).weights).toBeGreaterThan(
      4 * 11.8e9,
    );
  });
});

describe('random-weight models at full Pythia shapes run on this adapter', () => {
  let device: Device;
  beforeAll(async () => {
    device = await createDevice();
  });
  afterAll(() => device?.destroy());

  for (const size of ['14m', '31m', '70m', '160m']) {
    it(`pythia-${size}: loads in f16, prefills, and decodes through the cache like a recompute`, async () => {
      const config = pythiaConfig(size);
      const model = await NeoXModel.fromCheckpoint(randomCheckpoint(config, { seed: 1 }), {
        device,
      });
      expect(model.weights.bytes).toBe(estimateMemory(config).weights);
      const ids = [12092, 13, 309, 717, 253];
      const logits = await model.forward(ids);
      expect(logits.length).toBe(ids.length * config.vocabSize);
      expect(logits.every(Number.isFinite)).toBe(true);
      const cache = model.createCache(16);
      await model.forward(ids.slice(0, 4), { cache });
      const step = await model.forward(ids.slice(4), { cache });
      expect(maxAbsDiff(step, logits.subarray(4 * config.vocabSize))).toBeLessThanOrEqual(1e-4);
      cache.dispose();
      model.dispose();
    });
  }
});

describe('memory', () => {
  it('refuses to load over a memory budget, naming the numbers', async () => {
    const attempt = NeoXModel.fromCheckpoint(randomCheckpoint(pythiaConfig('1.4b')), {
      memoryBudget: 1e9,
    });
    await expect(attempt).rejects.toThrow(
      /needs about \d+\.\d+ GB of GPU memory \(weights 2\.\d+ GB, KV cache .*over the budget of 1\.00 GB/,
    );
  });
});

describe('GPU memory of a running model', () => {
  it('stays within 1.15 × (weights + KV cache) after prefill and decode, and decoding allocates nothing', async () => {
    const device = await createDevice();
    const config = pythiaConfig('70m');
    const model = await NeoXModel.fromCheckpoint(randomCheckpoint(config, { seed: 3 }), { device });
    const cache = model.createCache(160);
    let logits = await model.forward(
      Array.from({ length: 128 }, (_, i) => i * 31 + 7),
      { cache, logits: 'last' },
    );
    logits = await model.forward([1], { cache, logits: 'last' });
    const created = device.stats.buffersCreated;
    for (let step = 0; step < 8; step++)
      logits = await model.forward([step + 2], { cache, logits: 'last' });
    expect(device.stats.buffersCreated).toBe(created);
    expect(logits.length).toBe(config.vocabSize);
    expect(
      device.stats.bytesAllocated / (model.weights.bytes + cache.byteLength),
    ).toBeLessThanOrEqual(1.15);
    cache.dispose();
    model.dispose();
    device.destroy();
  });

  it('goes back to the driver when the model is disposed, not into the pool', async () => {
    const device = await createDevice();
    const config = pythiaConfig('70m');
    const checkpoint = randomCheckpoint(config, { seed: 3 });
    const model = await NeoXModel.fromCheckpoint(checkpoint, { device });
    await model.forward([1, 2, 3], { logits: 'last' });
    const weights = model.weights.bytes;
    await device.trimPool(); // the step's buffers, out of the figures below
    const held = device.stats.bytesAllocated;
    const resident = process.memoryUsage.rss();
    model.dispose();
    await device.trimPool();
    // On lavapipe GPU buffers are process memory: the weights have left it (the matrices of a
    // few MB may stay with the C allocator for reuse; without the device's own submission after
    // the destroy, none of it would leave).
    expect(resident - process.memoryUsage.rss()).toBeGreaterThan(0.5 * weights);
    expect(held - device.stats.bytesAllocated).toBeGreaterThanOrEqual(weights);
    expect(device.stats.pooledBytes).toBe(0);
    const next = await NeoXModel.fromCheckpoint(checkpoint, { device, dtype: 'q4' });
    // The device holds the next model's weights instead of the first's, and nothing else.
    expect(device.stats.bytesAllocated).toBe(held - weights + next.weights.bytes);
    next.dispose();
    device.destroy();
  });
});
