import {
  checkReadmeBlocks,
  type ReadmeBlock,
  runReadmeExample,
  typecheckSources,
} from '@pythiajs/vitest-config/readme-example';
import { expect } from 'vitest';
import {
  attentionReference,
  geluReference,
  layerNormReference,
  matmulReference,
  splitQkvRotaryReference,
  topkReference,
} from '../src/reference/index.js';

const README = new URL('../README.md', import.meta.url);
const numbers = (text: string) => [...text.matchAll(/-?\d+\.\d+/g)].map((m) => Number(m[0]));

/** A TypeScript block compiles (strict, no Node types) against the package's published types. */
async function expectCompiles(block: ReadmeBlock) {
  const dir = new URL('..', import.meta.url);
  expect(await typecheckSources(dir, { 'readme-example.ts': block.code })).toEqual([]);
}

async function runsTheExample(block: ReadmeBlock) {
  await expectCompiles(block);
  const run = await runReadmeExample(README, { block: block.index });
  expect(run.exitCode).toBe(0);
  expect(run.printed).toEqual(run.promised);
  // gelu(x + 0.5) read back from the GPU, then the CPU reference of the same kernel.
  const [, gpu, cpu] = run.logs.map((l) => l.text);
  expect(gpu).toMatch(/^Float32Array\(5\) /);
  const reference = numbers(cpu!);
  expect(reference).toHaveLength(5);
  numbers(gpu!).forEach((value, i) => {
    expect(value).toBeCloseTo(reference[i]!, 6);
  });
}

/**
 * The attention layer example's top-3 ids and logits, from the CPU references: its weights (sin(1), sin(2),
 * … in the order it makes them) through the same kernels. The logits are returned too, to show
 * that no two candidates are close enough for rounding to swap them.
 */
function layerReference() {
  const [T, heads, headDim, vocab, maxPositions] = [3, 2, 8, 16, 8];
  const [W, rotaryDims] = [heads * headDim, headDim / 4];
  let n = 0;
  const weights = (length: number) => Float32Array.from({ length }, () => Math.sin(++n));
  const hidden = weights(T * W);
  const [ln1W, ln1B, ln2W, ln2B] = [weights(W), weights(W), weights(W), weights(W)];
  const [lnW, lnB] = [weights(W), weights(W)];
  const [qkvWeight, qkvBias] = [weights(3 * W * W), weights(3 * W)];
  const [denseWeight, denseBias] = [weights(W * W), weights(W)];
  const [upWeight, upBias] = [weights(4 * W * W), weights(4 * W)];
  const [downWeight, downBias] = [weights(W * 4 * W), weights(W)];
  const unembed = weights(vocab * W);
  const plus = (a: Float32Array, b: Float32Array) => a.map((x, i) => x + b[i]!);

  const sizes = { tokens: T, heads, headDim, maxPositions, positionOffset: 0 };
  const cache = new Float32Array(heads * maxPositions * headDim);
  const qkv = matmulReference(
    layerNormReference(hidden, ln1W, ln1B, W),
    qkvWeight,
    T,
    3 * W,
    W,
    qkvBias,
  );
  const { q, kCache, vCache } = splitQkvRotaryReference(qkv, cache, cache, {
    ...sizes,
    rotaryDims,
    base: 10000,
  });
  const context = attentionReference(q, kCache, vCache, sizes).output;
  const attnOut = plus(matmulReference(context, denseWeight, T, W, W, denseBias), hidden);
  const up = geluReference(
    matmulReference(layerNormReference(hidden, ln2W, ln2B, W), upWeight, T, 4 * W, W, upBias),
  );
  const mlpOut = plus(matmulReference(up, downWeight, T, W, 4 * W, downBias), attnOut);
  const logits = matmulReference(layerNormReference(mlpOut, lnW, lnB, W), unembed, T, vocab, W);
  const { indices: ids, values } = topkReference(logits, vocab, 3);
  return { logits, vocab, ids, values };
}

async function runsTheAttentionLayer(block: ReadmeBlock) {
  await expectCompiles(block);
  const run = await runReadmeExample(README, { block: block.index });
  expect(run.exitCode).toBe(0);
  expect(run.printed).toEqual(run.promised);
  const { logits, vocab, ids, values } = layerReference();
  expect(run.printed[0]).toBe(`Uint32Array(9)[${Array.from(ids).join(', ')}]`);
  const gpu = numbers(run.printed[1]!);
  expect(gpu).toHaveLength(9);
  gpu.forEach((value, i) => {
    expect(Math.abs(value - values[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(values[i]!)));
  });
  // Each token's 4 best logits lie well apart, so the GPU's rounding cannot reorder them.
  for (let t = 0; t < 3; t++) {
    const row = Array.from(logits.subarray(t * vocab, (t + 1) * vocab)).sort((a, b) => b - a);
    for (let i = 0; i < 3; i++) expect(row[i]! - row[i + 1]!).toBeGreaterThan(1e-3);
  }
}

/** The quantized-weights example: its promises, and the GEMV agreeing with the reference. */
async function runsTheQuantizedExample(block: ReadmeBlock) {
  await expectCompiles(block);
  const run = await runReadmeExample(README, { block: block.index });
  expect(run.exitCode).toBe(0);
  expect(run.printed).toEqual(run.promised);
  const gpu = numbers(run.printed[1]!);
  const cpu = numbers(run.printed[2]!);
  expect(gpu).toHaveLength(4);
  expect(cpu).toHaveLength(4);
  gpu.forEach((value, i) => {
    expect(Math.abs(value - cpu[i]!)).toBeLessThan(1e-5);
  });
}

checkReadmeBlocks(README, {
  0: {
    language: 'ts',
    name: "compiles, runs on the machine's adapter and prints what its comments say",
    test: runsTheExample,
  },
  1: {
    language: 'ts',
    name: "(one attention layer) compiles, runs on the machine's adapter and prints the CPU references' top-k",
    test: runsTheAttentionLayer,
  },
  2: {
    language: 'ts',
    name: '(quantized weights) compiles, runs, and its GEMV equals the reference on the dequantized W',
    test: runsTheQuantizedExample,
  },
  3: { language: 'text', skip: "the benchmark's output on the project's machine, a measurement" },
});
