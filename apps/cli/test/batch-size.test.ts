import { estimateMemory, pythiaConfig } from '@pythiajs/neox-model';
import { describe, expect, it } from 'vitest';
import { batchSize } from '../src/batch-size.js';
import { memoryNeeds } from '../src/memory-check.js';

const GB = 1e9;
const pythia70m = pythiaConfig('pythia-70m');

describe('memoryNeeds of a batch', () => {
  it('counts the activations of every sequence’s tokens and one KV cache per sequence', () => {
    const one = estimateMemory(pythia70m, { dtype: 'f16', tokens: 512, contextLength: 512 });
    const four = memoryNeeds(pythia70m, 'f16', { tokens: 512, sequences: 4 }).estimate;
    expect(four.weights).toBe(one.weights);
    expect(four.kvCache).toBe(4 * one.kvCache);
    // Linear in the batch: attention stays within each sequence's own 512 keys.
    expect(four.activations).toBe(4 * one.activations);
    expect(four.total).toBe(one.weights + 4 * (one.kvCache + one.activations));
  });
});

describe('the default --batch-size', () => {
  // pythia-70m in f16: 140.9 MB of weights; a window of 2048 tokens takes 667.9 MB of
  // activations and KV cache (the [2048, 50304] logits alone are 412 MB), one of 512 tokens
  // 141.8 MB, one of 64 tokens 16.8 MB.
  const size = (tokens: number, budget: number | 'none' | undefined) =>
    batchSize(undefined, pythia70m, 'f16', { tokens }, budget);

  it('fills 1 GiB without a budget, or with the check off', () => {
    expect(size(2048, undefined)).toBe(1);
    expect(size(512, undefined)).toBe(7); // 7 × 141.8 MB ≤ 1073.7 MB < 8 × 141.8 MB
    expect(size(64, undefined)).toBe(63);
    expect(size(512, 'none')).toBe(7);
  });

  it('fills what --memory-budget leaves after the weights', () => {
    expect(size(2048, 4 * GB)).toBe(5); // (4000 − 140.9) / 667.9 = 5.8
    expect(size(512, 4 * GB)).toBe(27); // (4000 − 140.9) / 141.8 = 27.2
    const weights = estimateMemory(pythia70m, { dtype: 'f16' }).weights;
    const perWindow = memoryNeeds(pythia70m, 'f16', { tokens: 512 }).estimate;
    const exactlyThree = weights + 3 * (perWindow.kvCache + perWindow.activations);
    expect(size(512, exactlyThree)).toBe(3);
    expect(size(512, exactlyThree - 1)).toBe(2);
  });

  it('is at least 1, even when the weights alone exceed the budget, and at most 64', () => {
    expect(size(512, 100e6)).toBe(1);
    expect(size(64, 4 * GB)).toBe(64); // 229 would fit
    expect(size(1, undefined)).toBe(64);
  });

  it('counts one 64 MiB block of logits for commands that score on the GPU', () => {
    // 2048 tokens: 71.3 MB of layer activations, 134.2 MB of attention scores, 333 logits rows
    // (67.0 MB) and a 50.3 MB KV cache: 322.8 MB a window instead of 667.9.
    const scored = (tokens: number, budget: number | undefined) =>
      batchSize(undefined, pythia70m, 'f16', { tokens, logits: 'scored' }, budget);
    expect(scored(2048, undefined)).toBe(3);
    expect(scored(2048, 4 * GB)).toBe(11);
    expect(scored(512, undefined)).toBe(10);
  });

  it('takes --batch-size as given', () => {
    expect(batchSize(3, pythia70m, 'f16', { tokens: 2048 }, undefined)).toBe(3);
    expect(batchSize(200, pythia70m, 'f16', { tokens: 64 }, 4 * GB)).toBe(200);
  });

  it('counts the weights in the dtype they load in', () => {
    const f32 = batchSize(undefined, pythia70m, 'f32', { tokens: 512 }, 1 * GB);
    const f16 = batchSize(undefined, pythia70m, 'f16', { tokens: 512 }, 1 * GB);
    expect([f16, f32]).toEqual([6, 5]); // 281.7 MB of f32 weights leave room for one window less
  });
});
