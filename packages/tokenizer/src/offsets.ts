import type { NormalizationForm } from './config.js';
import { normalize } from './normalize.js';

/**
 * Maps positions in normalized text back to the input it came from, both as UTF-16 indices.
 * `start[u]` is where normalized unit `u` begins in the input and `end[u]` where the normalized
 * text up to (excluding) `u` ends.
 */
export interface Alignment {
  start(u: number): number;
  end(u: number): number;
}

/** Normalization left the segment unchanged: positions only shift by `base`. */
export function shiftAlignment(base: number): Alignment {
  return { start: (u) => base + u, end: (u) => base + u };
}

const MARK = /^\p{M}/u;

/** Starts of the input's clusters: a base character and the marks and jamo that may fuse with it. */
function clusterStarts(input: string): number[] {
  const starts: number[] = [];
  for (let i = 0; i < input.length; ) {
    const cp = input.codePointAt(i)!;
    const joins =
      MARK.test(String.fromCodePoint(cp)) ||
      (cp >= 0x1160 && cp <= 0x11ff) ||
      (cp >= 0xd7b0 && cp <= 0xd7ff);
    if (!joins || i === 0) starts.push(i);
    i += cp > 0xffff ? 2 : 1;
  }
  starts.push(input.length);
  return starts;
}

/**
 * Alignment for a segment that normalization changed (e.g. "e\u0301" → "é"): every normalized unit
 * maps to the whole input cluster it came from, so a token's offsets always cover whole characters
 * of the input. Falls back to the whole segment if the text cannot be split into clusters that
 * normalize independently.
 */
export function clusterAlignment(
  input: string,
  normalized: string,
  base: number,
  form: NormalizationForm,
): Alignment {
  const starts = clusterStarts(input);
  const from = new Int32Array(normalized.length + 1);
  const to = new Int32Array(normalized.length + 1);
  let u = 0;
  let ok = true;
  for (let c = 0; c + 1 < starts.length && ok; c++) {
    const a = starts[c]!;
    const b = starts[c + 1]!;
    const piece = normalize(input.slice(a, b), form);
    if (normalized.startsWith(piece, u)) {
      for (let k = 0; k < piece.length; k++) {
        from[u + k] = base + a;
        to[u + k + 1] = base + b;
      }
      u += piece.length;
    } else {
      ok = false;
    }
  }
  if (!ok || u !== normalized.length) {
    from.fill(base);
    to.fill(base + input.length);
  }
  to[0] = base;
  from[normalized.length] = base + input.length;
  return { start: (i) => from[i]!, end: (i) => to[i]! };
}
