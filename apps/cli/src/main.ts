import {
  InvalidModelRefError,
  LocalFolderNotFoundError,
  RepoNotFoundError,
  RevisionNotFoundError,
} from '@pythiajs/checkpoint-hub';
import { InvalidInputError, ModelSourceError } from '@pythiajs/neox-model';
import { Command, CommanderError } from 'commander';
import { registerActivations } from './commands/activations.js';
import { registerBench } from './commands/bench.js';
import { registerCache } from './commands/cache.js';
import { registerDownload } from './commands/download.js';
import { registerEval } from './commands/eval.js';
import { registerGenerate } from './commands/generate.js';
import { registerLens } from './commands/lens.js';
import { registerLogits } from './commands/logits.js';
import { registerRefs } from './commands/refs.js';
import { registerScore } from './commands/score.js';
import { registerSweep } from './commands/sweep.js';
import { registerTokenize } from './commands/tokenize.js';
import { UsageError } from './errors.js';

/** Builds the `pythia` program. Exported for tests; `bin.ts` runs it. */
export function createProgram(): Command {
  const program = new Command('pythia')
    .description("Run and study EleutherAI's Pythia models on WebGPU.")
    .option('--verbose', 'print stack traces of errors')
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  registerGenerate(program);
  registerTokenize(program);
  registerLogits(program);
  registerScore(program);
  registerSweep(program);
  registerLens(program);
  registerActivations(program);
  registerDownload(program);
  registerCache(program);
  registerRefs(program);
  registerEval(program);
  registerBench(program);
  // Subcommands end through main's handler as their parent does, with one-line errors.
  const quiet = (command: Command) => {
    for (const sub of command.commands) {
      sub.exitOverride().configureOutput({ outputError: () => {} });
      quiet(sub);
    }
  };
  quiet(program);
  return program;
}

/**
 * A mistake in how the command was called, which the caller fixes by calling it differently:
 * a bad option, a model or revision that does not exist, a `--model` and `--revision` that
 * disagree, input that does not fit (no tokens, an id outside the vocabulary, more tokens than the
 * context: the packages' typed errors, checked from `config.json` before any download). Exit
 * code 2. A file that cannot be used (a corrupt checkpoint, a tokenizer.json of another kind) is
 * not one: the same call works once the file is fixed, so it exits 1 like any other failure.
 */
function isUsageError(error: unknown): boolean {
  return (
    error instanceof UsageError ||
    error instanceof InvalidModelRefError ||
    error instanceof RepoNotFoundError ||
    error instanceof RevisionNotFoundError ||
    error instanceof LocalFolderNotFoundError ||
    error instanceof ModelSourceError ||
    error instanceof InvalidInputError
  );
}

/**
 * Runs the CLI and returns its exit code: 0 on success, 2 for usage errors, 1 for anything else
 * (network, cache, corrupt files, GPU). An error is one line on stderr saying what went wrong and
 * what to do; `--verbose` adds the stack trace.
 */
export async function main(argv: string[]): Promise<number> {
  const program = createProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here too, with code 0.
      if (error.exitCode === 0) return 0;
      process.stderr.write(
        `pythia: ${error.message.replace(/^error: /, '')} (see pythia --help)\n`,
      );
      return 2;
    }
    const message = error instanceof Error ? error.message : String(error);
    // One line: messages of lower layers may carry details on further lines.
    process.stderr.write(`pythia: ${message.split('\n')[0]}\n`);
    if (argv.includes('--verbose') && error instanceof Error && error.stack)
      process.stderr.write(`${error.stack}\n`);
    return isUsageError(error) ? 2 : 1;
  }
}
