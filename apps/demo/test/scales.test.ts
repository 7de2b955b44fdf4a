import { pythiaCheckpoints } from '@pythiajs/checkpoint-hub';
import { describe, expect, it } from 'vitest';
import { stepOf } from '../src/checkpoints.js';
import { linearScale, logScale, stepScale, symlogStep } from '../src/scales.js';

describe('the training-step axis, log10(step + 1)', () => {
  it('puts step 0 at 0, step 1 at log10 2 and step 999 at 3', () => {
    expect(symlogStep(0)).toBe(0);
    expect(symlogStep(1)).toBeCloseTo(0.30103, 5);
    expect(symlogStep(999)).toBeCloseTo(3, 12);
    expect(symlogStep(143_000)).toBeCloseTo(5.155339, 6);
  });

  it('maps steps 0 … 143000 onto the whole width, with ticks at 0 and the powers of ten', () => {
    const x = stepScale(143_000, 52, 624);
    expect(x(0)).toBe(52);
    expect(x(143_000)).toBeCloseTo(624, 9);
    expect(x(999)).toBeCloseTo(52 + (572 * 3) / Math.log10(143_001), 9);
    expect(x.ticks.map((t) => t.label)).toEqual(['0', '1', '10', '100', '1k', '10k', '100k']);
    expect(x.ticks.map((t) => t.value)).toEqual([0, 1, 10, 100, 1000, 10_000, 100_000]);
  });

  it("spreads Pythia's early checkpoints: each of step0 … step1000 gets 3% of the width or more", () => {
    const x = stepScale(143_000, 0, 1000);
    const early = pythiaCheckpoints()
      .map((r) => stepOf(r)!)
      .filter((step) => step <= 1000);
    expect(early).toEqual([0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000]);
    const gaps = early.slice(1).map((step, i) => x(step) - x(early[i]!));
    // The narrowest gap is step1 → step2: log10(3/2) of 5.16 decades. A linear axis would give
    // it 1/143000 of the width.
    expect(Math.min(...gaps)).toBeCloseTo((1000 * Math.log10(1.5)) / Math.log10(143_001), 9);
    expect(Math.min(...gaps)).toBeGreaterThan(30);
  });

  it('labels the last step when it is far enough from the last power of ten', () => {
    expect(stepScale(3000, 0, 100).ticks.map((t) => t.label)).toEqual([
      '0',
      '1',
      '10',
      '100',
      '1k',
      '3k',
    ]);
    expect(stepScale(1000, 0, 100).ticks.map((t) => t.label)).toEqual([
      '0',
      '1',
      '10',
      '100',
      '1k',
    ]);
  });
});

describe('value axes', () => {
  it('widen a linear range to round ticks: piqa accuracies 0.526 … 0.595 on 0.52 … 0.60', () => {
    const y = linearScale(0.5255712731229597, 0.5946681175190425, 200, 0);
    expect(y.domain).toEqual([0.52, 0.6]);
    expect(y.ticks.map((t) => t.label)).toEqual(['0.52', '0.54', '0.56', '0.58', '0.60']);
    expect(y(0.52)).toBe(200);
    expect(y(0.6)).toBeCloseTo(0, 9);
    expect(y(0.56)).toBeCloseTo(100, 9);
  });

  it('give a single value a range around it', () => {
    const y = linearScale(0, 0, 100, 0);
    expect(y.domain[0]).toBeLessThan(0);
    expect(y.domain[1]).toBeGreaterThan(0);
    expect(y(0)).toBeCloseTo(50, 9);
  });

  it("span LAMBADA's perplexity, 142 … 3.7 million, in powers of ten", () => {
    const y = logScale(142.42891015470678, 3684074.4512471026, 200, 0);
    expect(y.domain).toEqual([100, 10_000_000]);
    expect(y.ticks.map((t) => t.label)).toEqual(['100', '1k', '10k', '100k', '1M', '10M']);
    expect(y(100)).toBe(200);
    expect(y(10_000_000)).toBeCloseTo(0, 9);
    expect(y(10_000)).toBeCloseTo(120, 9);
  });
});
