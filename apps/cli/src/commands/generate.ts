import { parseModelRef } from '@pythiajs/checkpoint-hub';
import type { Command } from 'commander';
import { integerOption, numberOption, parseIds, readTextInput } from '../input.js';
import { pythiaTokenizer } from '../tokenizer.js';

interface GenerateOptions {
  model: string;
  revision?: string;
  ids?: string;
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  json?: boolean;
}

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('continue a prompt with a Pythia model')
    .argument('[prompt]', 'the prompt (default: standard input)')
    .option(
      '--model <ref>',
      'Hub repo, local folder, or pythia-70m-deduped@step3000 shorthand',
      'EleutherAI/pythia-70m-deduped',
    )
    .option('--revision <rev>', 'branch (step0 … step143000, main) or commit')
    .option('--ids <ids>', 'the prompt as token ids 1,2,3 instead of text')
    .option('--max-new-tokens <n>', 'tokens to generate', integerOption('max-new-tokens', 1), 32)
    .option('--temperature <t>', '0 = greedy', numberOption('temperature', 0, 100), 1)
    .option('--top-k <k>', '0 = off', integerOption('top-k', 0), 0)
    .option('--top-p <p>', '1 = off', numberOption('top-p', Number.MIN_VALUE, 1), 1)
    .option('--seed <n>', 'random seed', integerOption('seed', 0), 0)
    .option('--json', 'print one JSON object at the end')
    .action(async (prompt: string | undefined, options: GenerateOptions) => {
      const ref = parseModelRef(options.model);
      const revision = options.revision ?? ref.revision;
      const tokenizer = await pythiaTokenizer();
      const ids =
        options.ids !== undefined
          ? parseIds(options.ids)
          : tokenizer.encode(await readTextInput(prompt, undefined));
      // The forward pass (@pythiajs/neox-model) is not released yet: until it is, show how the
      // model will read the prompt, and say so plainly.
      process.stderr.write(
        `pythia: text generation arrives with @pythiajs/neox-model, which is not released yet; ` +
          `this is the prompt as ${ref.repo}@${revision} reads it.\n`,
      );
      if (options.json) {
        process.stdout.write(
          `${JSON.stringify({ model: ref.repo, revision, prompt_ids: ids, ids: [], text: '' })}\n`,
        );
        return;
      }
      for (const id of ids) {
        process.stdout.write(
          `${String(id).padStart(6)}  ${JSON.stringify(tokenizer.decode([id]))}\n`,
        );
      }
    });
}
