import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from './errors.js';

/** The text argument, else `--file`, else standard input when it is not a terminal. */
export async function readTextInput(
  text: string | undefined,
  file: string | undefined,
): Promise<string> {
  if (text !== undefined && file !== undefined)
    throw new UsageError('give the text or --file, not both');
  if (text !== undefined) return text;
  if (file !== undefined) {
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      throw new UsageError(
        `cannot read --file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
  }
  if (process.stdin.isTTY)
    throw new UsageError('give the text as an argument, with --file, or on standard input');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Token ids written as `1,2,3` or `1 2 3`. */
export function parseIds(text: string): number[] {
  const parts = text.split(/[\s,]+/).filter((p) => p !== '');
  if (parts.length === 0) throw new UsageError('no token ids given (write them as 1,2,3)');
  return parts.map((p) => {
    if (!/^\d+$/.test(p))
      throw new UsageError(`"${p}" is not a token id (ids are integers ≥ 0, written as 1,2,3)`);
    return Number(p);
  });
}

/** A whole number option ≥ `min`. */
export function integerOption(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${value}"`);
    return n;
  };
}

/** A number option inside [min, max]. */
export function numberOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new UsageError(`--${name} must be a number in [${min}, ${max}], got "${value}"`);
    }
    return n;
  };
}

/** The input of commands that run the model on a text: `--text` or `--ids`, exactly one. */
export function addTextOrIdsOptions<C extends Command>(command: C): C {
  command
    .option('--text <text>', 'the input as text')
    .option('--ids <ids>', 'the input as token ids 1,2,3');
  return command;
}

/** The ids of `--text` (encoded by `tokenizer()`, loaded only then) or of `--ids`. */
export async function textOrIds(
  options: { text?: string; ids?: string },
  tokenizer: () => Promise<{ encode(text: string): number[] }>,
): Promise<number[]> {
  if ((options.text === undefined) === (options.ids === undefined)) {
    throw new UsageError('give the input as --text or as --ids (one of them)');
  }
  return options.ids !== undefined
    ? parseIds(options.ids)
    : (await tokenizer()).encode(options.text!);
}
