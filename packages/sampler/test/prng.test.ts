import { describe, expect, it } from 'vitest';
import { Prng } from '../src/index.js';

describe('Prng (xoshiro128** seeded by splitmix32)', () => {
  it('produces the reference sequence for seed 42 (computed independently in Python)', () => {
    const rng = new Prng(42);
    expect(Array.from({ length: 5 }, () => rng.nextUint32())).toEqual([
      2837322924, 544945897, 479756282, 3500138142, 339756180,
    ]);
  });

  it('gives different streams for different seeds and floats in [0, 1)', () => {
    const a = new Prng(1);
    const b = new Prng(2);
    expect(a.nextUint32()).not.toBe(b.nextUint32());
    const rng = new Prng(7);
    for (let i = 0; i < 10_000; i++) {
      const x = rng.next();
      expect(x >= 0 && x < 1).toBe(true);
    }
  });

  it('rejects a seed that is not an integer', () => {
    expect(() => new Prng(1.5)).toThrow(/seed must be an integer/);
  });
});
