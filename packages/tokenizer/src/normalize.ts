import { CodePointSet } from './code-point-ranges.js';
import type { NormalizationForm } from './config.js';
import { UNASSIGNED_IN_UNICODE_9_RANGES } from './unicode-ranges.js';

let newerThanUnicode9: CodePointSet | undefined;

/**
 * Unicode normalization exactly as Hugging Face tokenizers computes it. Its normalizer carries
 * Unicode 9.0 data, so a character assigned since (e.g. a combining mark from Unicode 14) is left
 * where it is and neither reorders nor composes with its neighbours, while the engine's
 * `String.prototype.normalize` follows its newer ICU. Combining classes and decompositions never
 * change once assigned, so applying the engine's normalization between such characters, and
 * keeping them verbatim, reproduces the reference.
 */
export function normalize(text: string, form: NormalizationForm): string {
  const engine = text.normalize(form);
  // Already normalized by the engine's newer data means normalized by the older data too.
  if (engine === text) return text;
  newerThanUnicode9 ??= new CodePointSet(UNASSIGNED_IN_UNICODE_9_RANGES);
  const table = newerThanUnicode9.bmpTable();
  let out = '';
  let pending = 0;
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    const surrogate = (c & 0xfc00) === 0xd800;
    const width = surrogate ? 2 : 1;
    if (surrogate ? newerThanUnicode9.has(text.codePointAt(i)!) : table[c] === 1) {
      out += text.slice(pending, i).normalize(form) + text.slice(i, i + width);
      pending = i + width;
    }
    i += width;
  }
  return pending === 0 ? engine : out + text.slice(pending).normalize(form);
}
