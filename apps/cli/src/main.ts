import { CheckpointHubError } from '@pythiajs/checkpoint-hub';
import { TokenizerError } from '@pythiajs/tokenizer';
import { Command, CommanderError } from 'commander';
import { registerGenerate } from './commands/generate.js';
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
  return program;
}

/**
 * Runs the CLI and returns its exit code: 0 on success, 2 for usage errors, 1 for anything else.
 * An error is one line on stderr saying what went wrong and what to do.
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
    const usage =
      error instanceof UsageError ||
      error instanceof CheckpointHubError ||
      error instanceof TokenizerError;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`pythia: ${message}\n`);
    if (program.opts().verbose && error instanceof Error && error.stack)
      process.stderr.write(`${error.stack}\n`);
    return usage ? 2 : 1;
  }
}
