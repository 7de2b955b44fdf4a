import type { Command } from 'commander';
import { parseIds, readTextInput } from '../input.js';
import { pythiaTokenizer } from '../tokenizer.js';

export function registerTokenize(program: Command): void {
  program
    .command('tokenize')
    .description(
      'print the token ids of a text (GPT-NeoX-20B tokenizer, shared by every Pythia model)',
    )
    .argument('[text]', 'text to tokenize (default: --file or standard input)')
    .option('--file <path>', 'read the text from a file')
    .option('--json', 'print {"ids": [...], "tokens": [...]} instead of comma-separated ids')
    .action(async (text: string | undefined, options: { file?: string; json?: boolean }) => {
      const tokenizer = await pythiaTokenizer();
      const ids = tokenizer.encode(await readTextInput(text, options.file));
      if (options.json) {
        const tokens = ids.map((id: number) => tokenizer.idToToken(id));
        process.stdout.write(`${JSON.stringify({ ids, tokens })}\n`);
      } else {
        process.stdout.write(`${ids.join(',')}\n`);
      }
    });

  program
    .command('detokenize')
    .description('print the text of token ids')
    .argument('[ids]', 'ids as 1,2,3 (default: --file or standard input)')
    .option('--file <path>', 'read the ids from a file')
    .option('--skip-special-tokens', 'leave out <|endoftext|> and <|padding|>')
    .option('--json', 'print {"text": ...}')
    .action(
      async (
        idsText: string | undefined,
        options: { file?: string; json?: boolean; skipSpecialTokens?: boolean },
      ) => {
        const ids = parseIds(await readTextInput(idsText, options.file));
        const text = (await pythiaTokenizer()).decode(ids, {
          skipSpecialTokens: options.skipSpecialTokens ?? false,
        });
        process.stdout.write(options.json ? `${JSON.stringify({ text })}\n` : `${text}\n`);
      },
    );
}
