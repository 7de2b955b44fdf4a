import type { Merge } from './config.js';
import { InvalidTokenizerConfigError } from './errors.js';

const RANK_SHIFT = 2 ** 32;

/**
 * Byte-pair encoding over token ids: repeatedly merges the adjacent pair with the lowest merge rank
 * (leftmost first on ties) until no pair has a merge — the order Hugging Face tokenizers' BPE uses.
 *
 * Pairs live in an open-addressing hash table of two int32 keys, and a word is merged with a binary
 * heap of (rank, position) candidates over a linked list of symbols, so a word of n symbols costs
 * O(n log n) even for pathological inputs such as a 100 000-digit number.
 */
export class BpeMerges {
  private readonly mask: number;
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly rank: Int32Array;
  /** Token id produced by the merge of each rank. */
  private readonly mergedId: Int32Array;

  // Scratch space reused across words.
  private next = new Int32Array(64);
  private prev = new Int32Array(64);
  private heap = new Float64Array(128);

  constructor(vocab: ReadonlyMap<string, number>, merges: readonly Merge[]) {
    if (merges.length >= 2 ** 21) {
      throw new InvalidTokenizerConfigError(
        `too many merges (${merges.length}); at most 2^21 are supported`,
      );
    }
    let capacity = 1024;
    while (capacity < merges.length * 2) capacity *= 2;
    this.mask = capacity - 1;
    this.left = new Int32Array(capacity).fill(-1);
    this.right = new Int32Array(capacity);
    this.rank = new Int32Array(capacity);
    this.mergedId = new Int32Array(merges.length);
    for (let r = 0; r < merges.length; r++) {
      const [a, b] = splitMerge(merges[r], r);
      const ia = vocab.get(a);
      const ib = vocab.get(b);
      const merged = vocab.get(a + b);
      if (ia === undefined || ib === undefined || merged === undefined) {
        const missing = ia === undefined ? a : ib === undefined ? b : a + b;
        throw new InvalidTokenizerConfigError(
          `model.merges[${r}] ("${a} ${b}") needs "${missing}", which is not in the vocab`,
        );
      }
      this.mergedId[r] = merged;
      let slot = hash(ia, ib) & this.mask;
      while (this.left[slot] !== -1) {
        // A repeated pair keeps its first (lowest) rank, as a map insert would.
        if (this.left[slot] === ia && this.right[slot] === ib) break;
        slot = (slot + 1) & this.mask;
      }
      if (this.left[slot] === -1) {
        this.left[slot] = ia;
        this.right[slot] = ib;
        this.rank[slot] = r;
      }
    }
  }

  /** Merge rank of the pair (a, b), or -1 when the pair never merges. */
  rankOf(a: number, b: number): number {
    let slot = hash(a, b) & this.mask;
    for (;;) {
      const l = this.left[slot]!;
      if (l === -1) return -1;
      if (l === a && this.right[slot] === b) return this.rank[slot]!;
      slot = (slot + 1) & this.mask;
    }
  }

  /**
   * Merges `symbols[0, n)` in place and returns the number of ids left at its start.
   */
  apply(symbols: Int32Array, n: number): number {
    if (n < 2) return n;
    if (this.next.length < n) {
      this.next = new Int32Array(n * 2);
      this.prev = new Int32Array(n * 2);
      this.heap = new Float64Array(n * 4);
    }
    const { next, prev } = this;
    let size = 0;
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
      if (i + 1 < n) {
        const r = this.rankOf(symbols[i]!, symbols[i + 1]!);
        if (r >= 0) size = this.push(size, r * RANK_SHIFT + i);
      }
    }
    while (size > 0) {
      const key = this.heap[0]!;
      size = this.pop(size);
      const r = Math.floor(key / RANK_SHIFT);
      const pos = key - r * RANK_SHIFT;
      const right = next[pos]!;
      // Skip candidates made stale by an earlier merge: the left symbol was absorbed, it has no
      // right neighbour any more, or the pair there now merges into something else.
      if (symbols[pos] === -1 || right === -1) continue;
      const current = this.rankOf(symbols[pos]!, symbols[right]!);
      if (current < 0 || this.mergedId[current] !== this.mergedId[r]) continue;

      symbols[pos] = this.mergedId[r]!;
      symbols[right] = -1;
      const after = next[right]!;
      next[pos] = after;
      if (after !== -1) prev[after] = pos;

      const before = prev[pos]!;
      if (before !== -1) {
        const rb = this.rankOf(symbols[before]!, symbols[pos]!);
        if (rb >= 0) size = this.push(size, rb * RANK_SHIFT + before);
      }
      if (after !== -1) {
        const ra = this.rankOf(symbols[pos]!, symbols[after]!);
        if (ra >= 0) size = this.push(size, ra * RANK_SHIFT + pos);
      }
    }
    let m = 0;
    for (let i = 0; i !== -1; i = next[i]!) symbols[m++] = symbols[i]!;
    return m;
  }

  private push(size: number, key: number): number {
    if (size === this.heap.length) {
      const grown = new Float64Array(size * 2);
      grown.set(this.heap);
      this.heap = grown;
    }
    const heap = this.heap;
    let i = size;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= key) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = key;
    return size + 1;
  }

  private pop(size: number): number {
    const heap = this.heap;
    const last = heap[--size]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && heap[child + 1]! < heap[child]!) child++;
      if (heap[child]! >= last) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return size;
  }
}

function hash(a: number, b: number): number {
  let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) >>> 0;
}

function splitMerge(merge: unknown, r: number): readonly [string, string] {
  if (typeof merge === 'string') {
    const space = merge.indexOf(' ');
    if (space > 0 && space < merge.length - 1)
      return [merge.slice(0, space), merge.slice(space + 1)];
  } else if (Array.isArray(merge) && merge.length === 2) {
    const [a, b] = merge as unknown[];
    if (typeof a === 'string' && typeof b === 'string') return [a, b];
  }
  throw new InvalidTokenizerConfigError(
    `model.merges[${r}] = ${JSON.stringify(merge)} is neither "a b" nor ["a", "b"]`,
  );
}
