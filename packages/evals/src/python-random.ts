/**
 * CPython's `random.Random`: the Mersenne Twister (MT19937) with Python's seeding of integers
 * (`init_by_array` over the integer's 32-bit words, least significant first) and the methods the
 * harness's shuffle and bootstrap use, so that their draws are Python's, number for number.
 */
export class PythonRandom {
  private readonly mt = new Uint32Array(624);
  private index = 625;

  /** `random.Random(seed)` for a non-negative integer seed (Python uses its absolute value). */
  constructor(seed: number) {
    this.seed(seed);
  }

  /** `random.seed(n)` for an integer n (|n| < 2⁵³). */
  seed(n: number): void {
    if (!Number.isSafeInteger(n)) throw new RangeError(`seed must be a safe integer, not ${n}`);
    let rest = Math.abs(n);
    const key: number[] = [];
    do {
      key.push(rest % 0x1_0000_0000);
      rest = Math.floor(rest / 0x1_0000_0000);
    } while (rest > 0);
    this.initByArray(key);
  }

  private initGenrand(s: number): void {
    const mt = this.mt;
    mt[0] = s >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.index = 624;
  }

  private initByArray(key: readonly number[]): void {
    const mt = this.mt;
    this.initGenrand(19650218);
    let i = 1;
    let j = 0;
    for (let k = Math.max(624, key.length); k > 0; k--) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      mt[i] = ((mt[i]! ^ Math.imul(prev, 1664525)) + key[j]! + j) >>> 0;
      i++;
      j++;
      if (i >= 624) {
        mt[0] = mt[623]!;
        i = 1;
      }
      if (j >= key.length) j = 0;
    }
    for (let k = 623; k > 0; k--) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      mt[i] = ((mt[i]! ^ Math.imul(prev, 1566083941)) - i) >>> 0;
      i++;
      if (i >= 624) {
        mt[0] = mt[623]!;
        i = 1;
      }
    }
    mt[0] = 0x8000_0000;
  }

  private twist(): void {
    const mt = this.mt;
    for (let k = 0; k < 624; k++) {
      const y = (mt[k]! & 0x8000_0000) | (mt[(k + 1) % 624]! & 0x7fff_ffff);
      mt[k] = mt[(k + 397) % 624]! ^ (y >>> 1) ^ (y & 1 ? 0x9908_b0df : 0);
    }
    this.index = 0;
  }

  /** The next 32-bit output (`genrand_uint32`). */
  nextUint32(): number {
    if (this.index >= 624) this.twist();
    let y = this.mt[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c_5680;
    y ^= (y << 15) & 0xefc6_0000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** `random.random()`: 53 random bits in [0, 1) (`genrand_res53`). */
  random(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) * (1 / 9007199254740992);
  }

  /** `random.getrandbits(k)` for 0 < k ≤ 32. */
  getrandbits(k: number): number {
    if (!Number.isInteger(k) || k < 1 || k > 32) throw new RangeError('k must be in 1 … 32');
    return this.nextUint32() >>> (32 - k);
  }

  /** `random._randbelow(n)` (by rejection on `n.bit_length()` bits), 0 < n < 2³². */
  randbelow(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0xffff_ffff) {
      throw new RangeError('n must be an integer in 1 … 2³² − 1');
    }
    // n.bit_length()
    let k = 0;
    for (let m = n; m >= 1; m = Math.floor(m / 2)) k++;
    const bits = Math.min(k, 32);
    let r = this.getrandbits(bits);
    while (r >= n) r = this.getrandbits(bits);
    return r;
  }

  /** `random.shuffle(x)`, in place. */
  shuffle<T>(x: T[]): T[] {
    for (let i = x.length - 1; i > 0; i--) {
      const j = this.randbelow(i + 1);
      const t = x[i]!;
      x[i] = x[j]!;
      x[j] = t;
    }
    return x;
  }

  /** `random.choices(population, k=k)` without weights: each pick is `floor(random() · n)`. */
  choices<T>(population: readonly T[], k: number): T[] {
    const n = population.length;
    const out = new Array<T>(k);
    for (let i = 0; i < k; i++) out[i] = population[Math.floor(this.random() * n)]!;
    return out;
  }
}
