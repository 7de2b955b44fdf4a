import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { RandomAccessSink } from '@pythiajs/checkpoint-hub';
import { fileSink } from '@pythiajs/checkpoint-hub/node';
import {
  checkTokenIds,
  InvalidInputError,
  resolveActivationNames,
  type WrittenActivations,
  writeActivations,
} from '@pythiajs/neox-model';
import { type Command, Option } from 'commander';
import { UsageError } from '../errors.js';
import { integerOption } from '../input.js';
import { catchInterrupt } from '../interrupt.js';
import { addModelOptions, loadModel, type ModelOptions, resolveModel } from '../model-options.js';
import { countBar } from '../progress.js';
import { warn } from '../style.js';
import { parseTextJsonl } from '../text-jsonl.js';
import { modelTokenizer } from '../tokenizer.js';

interface ActivationsOptions extends ModelOptions {
  names: string;
  text?: string;
  file?: string;
  jsonl?: string;
  out: string;
  outDtype: 'f32' | 'f16';
  context?: number;
  tokensPerStep?: number;
  json?: boolean;
}

/** Tokens per forward step when `--tokens-per-step` is not given (writeActivations' default). */
const TOKENS_PER_STEP = 2048;

export function registerActivations(program: Command): void {
  const command = program
    .command('activations')
    .description(
      'write the activations at hook points over a text of any length (or many texts) to a .safetensors file, for safetensors.numpy',
    )
    .requiredOption(
      '--names <names>',
      "hook points, comma-separated; * matches any characters (e.g. 'blocks.*.hook_resid_post,hook_embed')",
    )
    .option('--text <text>', 'the input as text')
    .option('--file <path>', 'the input as a text file (one sequence)')
    .option(
      '--jsonl <path>',
      'many inputs: a JSONL file with a "text" string per line (one sequence each)',
    )
    .requiredOption('--out <file.safetensors>', 'where to write the activations')
    .addOption(
      new Option('--out-dtype <dtype>', 'element type of the activations in the file')
        .choices(['f32', 'f16'])
        .default('f32'),
    )
    .option(
      '--context <n>',
      "tokens per window: longer sequences are cut into consecutive windows, each run from position 0 (default: the model's context)",
      integerOption('context', 1),
    )
    .option(
      '--tokens-per-step <n>',
      `tokens run per forward step, which bounds memory (default ${TOKENS_PER_STEP}, at most what the GPU's largest buffer binding allows)`,
      integerOption('tokens-per-step', 1),
    )
    .option('--json', 'print {"out", "tokens", "sequences", "shapes", …} when done');
  addModelOptions(command).action(async (options: ActivationsOptions) => {
    const given = [options.text, options.file, options.jsonl].filter((x) => x !== undefined);
    if (given.length !== 1)
      throw new UsageError('give the input as --text, --file or --jsonl (one of them)');
    const patterns = options.names
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== '');
    if (patterns.length === 0)
      throw new UsageError("--names is empty; give hook points such as 'blocks.*.hook_resid_post'");
    const texts = await readTexts(options);
    const target = await resolveModel(options);
    const tokenizer = await modelTokenizer(target);
    const sequences = texts.map((text) => tokenizer.encode(text));
    const total = sequences.reduce((n, s) => n + s.length, 0);
    if (total === 0) throw new UsageError('the input has no tokens');
    // A folder that cannot take --out is said before the model is downloaded.
    await access(dirname(resolve(options.out)), constants.W_OK).catch((error: unknown) => {
      throw cannotWrite(options.out, error);
    });
    const perStep = options.tokensPerStep ?? TOKENS_PER_STEP;
    const loaded = await loadModel(target, options, {
      // From config.json, before any download: the names, the window, the ids.
      check: (config) => {
        resolveActivationNames(config, patterns);
        if (options.context !== undefined && options.context > config.maxPositions)
          throw new UsageError(
            `--context must be at most the model's context, ${config.maxPositions}`,
          );
        sequences.forEach((ids, i) => {
          if (ids.length === 0) return;
          try {
            checkTokenIds(ids, config, { room: Number.POSITIVE_INFINITY });
          } catch (error) {
            if (error instanceof InvalidInputError && options.jsonl !== undefined)
              error.message = `${options.jsonl}:${i + 1}: ${error.message}`;
            throw error;
          }
        });
      },
      // Windows of at most the context packed into steps of `perStep` tokens.
      use: (config) => {
        const window = Math.min(options.context ?? config.maxPositions, perStep);
        return {
          tokens: window,
          sequences: Math.max(1, Math.floor(perStep / window)),
          logits: 'last',
        };
      },
    });
    const interrupt = catchInterrupt();
    const bar = countBar('tokens');
    let written: WrittenActivations | undefined;
    try {
      const sink = await openSink(options.out);
      written = await writeActivations(loaded.model, sequences, {
        names: patterns,
        sink,
        dtype: options.outDtype,
        ...(options.context !== undefined ? { context: options.context } : {}),
        ...(options.tokensPerStep !== undefined ? { tokensPerStep: options.tokensPerStep } : {}),
        metadata: { input: describeInput(options, texts.length) },
        onProgress: (p) => bar.update(p.tokens, p.totalTokens),
        signal: interrupt.signal,
      });
    } catch (error) {
      if (!interrupt.signal.aborted) throw error;
    } finally {
      bar.stop();
      interrupt.release();
      loaded.dispose();
    }
    if (!written) {
      warn(`interrupted; ${options.out} was not written`);
      interrupt.exitAsSignalled();
      return;
    }
    const names = written.names;
    if (options.json) {
      process.stdout.write(
        `${JSON.stringify({
          out: options.out,
          model: loaded.checkpoint.repo,
          revision: loaded.checkpoint.revision,
          commit: loaded.checkpoint.commit,
          dtype: options.outDtype,
          names,
          shapes: written.shapes,
          tokens: written.tokens,
          sequences: written.sequences,
          windows: written.windows,
          context: Number(written.metadata.context),
          bytes: written.bytes,
        })}\n`,
      );
      return;
    }
    const dtype = options.outDtype === 'f16' ? 'float16' : 'float32';
    const shapes = [...new Set(names.map((n) => `[${written.shapes[n]!.join(', ')}]`))];
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    process.stdout.write(
      `wrote ${options.out}: ${plural(names.length, 'hook point')} as ${dtype} ${shapes.join(', ')}, ` +
        `input_ids and sequence_starts (${plural(written.tokens, 'token')}, ${plural(written.sequences, 'sequence')}, ` +
        `${plural(written.windows, 'window')} of at most ${written.metadata.context}); ` +
        'safetensors.numpy.load_file reads it\n',
    );
  });
}

/** The texts of `--text`, `--file` (one each) or `--jsonl` (one per line). */
async function readTexts(options: ActivationsOptions): Promise<string[]> {
  if (options.text !== undefined) return [options.text];
  const [flag, path] =
    options.file !== undefined ? ['--file', options.file] : ['--jsonl', options.jsonl!];
  let contents: string;
  try {
    contents = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `cannot read ${flag} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  return flag === '--file' ? [contents] : parseTextJsonl(contents, path);
}

/** Where the input came from, for the file's metadata. */
function describeInput(options: ActivationsOptions, texts: number): string {
  if (options.file !== undefined) return `--file ${options.file}`;
  if (options.jsonl !== undefined) return `--jsonl ${options.jsonl} (${texts} lines)`;
  return '--text';
}

/** `<out>.partial`, renamed to `out` when complete; a failure says what to check. */
async function openSink(out: string): Promise<RandomAccessSink> {
  try {
    return await fileSink(out);
  } catch (error) {
    throw cannotWrite(out, error);
  }
}

function cannotWrite(out: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  return new Error(`cannot write ${out} (${code}); check that its folder exists and is writable`);
}
