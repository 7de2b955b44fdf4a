// One scratch word reinterpreted as f32 and u32: the only way to see a float's bits in JS.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/**
 * The IEEE 754 binary16 bit pattern nearest to `value` (first rounded to f32), rounding ties to
 * even. Overflow gives ±Infinity, tiny values become subnormals or ±0, NaN stays NaN.
 *
 * @example
 * ```ts
 * f32ToF16Bits(1.5); // 0x3e00
 * f32ToF16Bits(65520); // 0x7c00 (Infinity: ties to even past the largest f16, 65504)
 * ```
 */
export function f32ToF16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | (mantissa === 0 ? 0x7c00 : 0x7e00);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal f16: units of 2^-24, so drop (14 - e) bits of the mantissa with its implicit 1.
    const full = mantissa | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = full & ((1 << shift) - 1);
    let m = full >>> shift;
    if (rest > half || (rest === half && (m & 1) === 1)) m++;
    // A carry into bit 10 is exactly the smallest normal's encoding.
    return sign | m;
  }
  let h = sign | (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to Infinity).
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++;
  return h;
}

/**
 * The value of an IEEE 754 binary16 bit pattern; exact, as every f16 is an f32.
 *
 * @example
 * ```ts
 * f16BitsToF32(0x3c00); // 1
 * f16BitsToF32(0x0001); // 5.960464477539063e-8, the smallest subnormal
 * ```
 */
export function f16BitsToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/**
 * f16 bit patterns of every value, rounded to nearest even.
 *
 * @example
 * ```ts
 * const bits = f32ArrayToF16Bits(new Float32Array([0.1, -2])); // Uint16Array [0x2e66, 0xc000]
 * ```
 */
export function f32ArrayToF16Bits(values: ArrayLike<number>): Uint16Array<ArrayBuffer> {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i]!);
  return out;
}

/**
 * The exact f32 values of f16 bit patterns.
 *
 * @example
 * ```ts
 * f16BitsToF32Array(new Uint16Array([0x3c00, 0xc000])); // Float32Array [1, -2]
 * ```
 */
export function f16BitsToF32Array(bits: ArrayLike<number>): Float32Array<ArrayBuffer> {
  const table = f16Table();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!;
  return out;
}

let table: Float32Array | undefined;

/**
 * The f32 value of every f16 bit pattern (256 KiB, built on first use): a lookup converts
 * checkpoint-sized arrays several times faster than {@link f16BitsToF32}'s arithmetic.
 */
export function f16Table(): Float32Array {
  if (!table) {
    table = new Float32Array(1 << 16);
    for (let bits = 0; bits < table.length; bits++) table[bits] = f16BitsToF32(bits);
  }
  return table;
}
