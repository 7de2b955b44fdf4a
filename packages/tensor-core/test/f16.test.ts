import { describe, expect, it } from 'vitest';
import { f16BitsToF32, f16BitsToF32Array, f32ArrayToF16Bits, f32ToF16Bits } from '../src/index.js';

describe('f16 <-> f32 conversion on the CPU', () => {
  it('round-trips every one of the 65536 f16 bit patterns (NaNs stay NaN)', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = f16BitsToF32(bits);
      const encodesNaN = (bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0;
      if (encodesNaN) expect(Number.isNaN(value)).toBe(true);
      else if (f32ToF16Bits(value) !== bits) expect.fail(`bits 0x${bits.toString(16)} -> ${value}`);
    }
  });

  it('decodes the landmark values exactly', () => {
    expect(f16BitsToF32(0x3c00)).toBe(1);
    expect(f16BitsToF32(0xc000)).toBe(-2);
    expect(f16BitsToF32(0x7bff)).toBe(65504);
    expect(f16BitsToF32(0x0400)).toBe(2 ** -14);
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f16BitsToF32(0x7c00)).toBe(Number.POSITIVE_INFINITY);
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
  });

  it('rounds to nearest, ties to even', () => {
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: the even neighbour is 1.
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00);
    // 1 + 3·2^-11 is halfway between 1 + 2^-10 (odd) and 1 + 2^-9 (even).
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    expect(f32ToF16Bits(0.1)).toBe(0x2e66);
  });

  it('overflows to infinity past the largest f16 and keeps the sign of zero', () => {
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00);
    expect(f32ToF16Bits(-1e10)).toBe(0xfc00);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(Number.NaN) & 0x7e00).toBe(0x7e00);
  });

  it('rounds into and out of the subnormal range', () => {
    expect(f32ToF16Bits(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal: even
    expect(f32ToF16Bits(2 ** -25 * 1.5)).toBe(1);
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(2); // tie between 1 and 2 subnormal units
    expect(f32ToF16Bits(2 ** -14 - 2 ** -26)).toBe(0x0400); // rounds up to the smallest normal
    expect(f32ToF16Bits(1e-10)).toBe(0);
  });

  it('converts whole arrays', () => {
    const bits = f32ArrayToF16Bits(new Float32Array([0.5, -3, 1024]));
    expect(Array.from(bits)).toEqual([0x3800, 0xc200, 0x6400]);
    expect(Array.from(f16BitsToF32Array(bits))).toEqual([0.5, -3, 1024]);
  });
});
