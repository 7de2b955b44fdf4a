/**
 * A set of code points stored as sorted inclusive ranges, decoded from the compact strings of
 * `unicode-ranges.ts`, with a 64 KiB table for the BMP so the common case is one array load.
 */
export class CodePointSet {
  readonly ranges: Uint32Array;
  private bmp: Uint8Array | undefined;

  constructor(encoded: string) {
    const deltas = encoded.split(',');
    this.ranges = new Uint32Array(deltas.length);
    let prev = 0;
    for (let i = 0; i < deltas.length; i += 2) {
      const begin = prev + Number.parseInt(deltas[i]!, 36);
      const end = begin + Number.parseInt(deltas[i + 1]!, 36);
      this.ranges[i] = begin;
      this.ranges[i + 1] = end;
      prev = end;
    }
  }

  /** 1 at each BMP code point in the set, 0 elsewhere. */
  bmpTable(): Uint8Array {
    if (this.bmp) return this.bmp;
    const table = new Uint8Array(0x10000);
    for (let i = 0; i < this.ranges.length; i += 2) {
      const begin = this.ranges[i]!;
      if (begin > 0xffff) break;
      table.fill(1, begin, Math.min(this.ranges[i + 1]!, 0xffff) + 1);
    }
    this.bmp = table;
    return table;
  }

  has(cp: number): boolean {
    if (cp <= 0xffff) return this.bmpTable()[cp] === 1;
    const r = this.ranges;
    let lo = 0;
    let hi = r.length / 2 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (cp < r[2 * mid]!) hi = mid - 1;
      else if (cp > r[2 * mid + 1]!) lo = mid + 1;
      else return true;
    }
    return false;
  }
}
