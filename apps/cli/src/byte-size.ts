import { UsageError } from './errors.js';

// Decimal units as formatBytes prints them (1 GB = 10⁹ bytes), binary ones when spelled KiB, MiB …
const POWERS: Record<string, number> = { '': 0, k: 1, m: 2, g: 3, t: 4 };

/**
 * A size as people write it: `8GB`, `512MB`, `1.5 GiB`, `1KB`, `8g`, or bytes (`1048576`).
 * Decimal units are powers of 1000, `KiB` … `TiB` powers of 1024.
 *
 * @throws {UsageError} naming `option` and the forms it takes.
 */
export function parseByteSize(text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?|\.\d+)\s*(?:([kmgt])(i)?b?|b)?$/i.exec(text.trim());
  if (!match) {
    throw new UsageError(
      `${option} takes a size such as 8GB, 512MB, 1.5GiB or a number of bytes, not "${text}"`,
    );
  }
  const [, number, unit = '', binary] = match;
  const base = binary ? 1024 : 1000;
  return Math.round(Number(number) * base ** POWERS[unit.toLowerCase()]!);
}

/**
 * `--memory-budget`: a size, or `none` (also `0`) to turn the memory check off. (Not null for
 * off: commander replaces a null from a parser with an empty string.)
 *
 * @throws {UsageError} anything else.
 */
export function parseMemoryBudget(text: string): number | 'none' {
  if (/^(none|off)$/i.test(text.trim())) return 'none';
  const bytes = parseByteSize(text, '--memory-budget');
  return bytes === 0 ? 'none' : bytes;
}
