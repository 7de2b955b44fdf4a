import { expect } from 'vitest';

// random.ts has no vitest import, so the browser page can bundle it.
export { randomFloats } from './random.js';

/**
 * Asserts |actual − expected| ≤ rtol·|expected| + atol elementwise, reporting the worst element
 * so that a failure shows the numbers rather than a 4099-element diff.
 */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  atol = 0,
): void {
  expect(actual.length).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const excess = Math.abs(a - e) - (rtol * Math.abs(e) + atol);
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(
      `element ${worst}: got ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`,
    );
  }
}
