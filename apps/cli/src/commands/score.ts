import { checkTokenIds } from '@pythiajs/neox-model';
import type { Command } from 'commander';
import { addBatchSizeOption } from '../batch-size.js';
import { UsageError } from '../errors.js';
import { integerOption, readTextInput } from '../input.js';
import { addModelOptions, loadModel, type ModelOptions, resolveModel } from '../model-options.js';
import { scoreText, scoringPlan } from '../scoring.js';
import { note } from '../style.js';
import { csvLine, formatTable } from '../table.js';
import { showToken, tokenLabel } from '../token-label.js';
import { modelTokenizer } from '../tokenizer.js';

interface ScoreOptions extends ModelOptions {
  file?: string;
  stride?: number;
  batchSize?: number;
  json?: boolean;
  csv?: boolean;
}

export function registerScore(program: Command): void {
  const command = program
    .command('score')
    .description(
      'per-token log-probabilities and perplexity of a text of any length (sliding window over the context)',
    )
    .argument('[text]', 'the text (default: --file or standard input)')
    .option('--file <path>', 'read the text from a file')
    .option(
      '--stride <n>',
      'tokens the window moves each step (default: half the context)',
      integerOption('stride', 1),
    )
    .option('--json', 'print {"tokens": [...], "loss", "perplexity"}')
    .option('--csv', 'print position,id,token,logprob rows');
  addBatchSizeOption(command, 'windows');
  addModelOptions(command).action(async (text: string | undefined, options: ScoreOptions) => {
    if (options.json && options.csv) throw new UsageError('give --json or --csv, not both');
    const target = await resolveModel(options);
    const tokenizer = await modelTokenizer(target);
    const ids = tokenizer.encode(await readTextInput(text, options.file));
    if (ids.length < 2)
      throw new UsageError(
        `the text is ${ids.length} token${ids.length === 1 ? '' : 's'}; scoring needs at least 2 (the first has no context)`,
      );
    const loaded = await loadModel(target, options, {
      // Any length is fine: only the ids are checked here, the window handles the context.
      check: (config) => {
        if (options.stride !== undefined && options.stride > config.maxPositions)
          throw new UsageError(`--stride must be at most the context, ${config.maxPositions}`);
        checkTokenIds(ids, config, { room: Number.POSITIVE_INFINITY });
      },
      // Windows of at most the context, `batch` of them per step.
      use: (config, dtype) => scoringPlan(ids.length, config, dtype, options).use,
    });
    try {
      const { logprobs, loss, perplexity } = await scoreText(loaded.model, ids, {
        ...(options.stride !== undefined ? { stride: options.stride } : {}),
        batchSize: scoringPlan(ids.length, loaded.model.config, loaded.model.dtype, options).batch,
      });
      const rows = [...logprobs].map((logprob, i) => {
        const label = tokenLabel(tokenizer, ids[i + 1]!);
        return {
          position: i + 1,
          id: ids[i + 1]!,
          token: label.text,
          partial_utf8: label.partial,
          logprob,
        };
      });
      if (options.json) {
        process.stdout.write(
          `${JSON.stringify({ model: loaded.checkpoint.repo, revision: loaded.checkpoint.revision, commit: loaded.checkpoint.commit, dtype: loaded.model.dtype, tokens: rows, scored: rows.length, loss, perplexity })}\n`,
        );
      } else if (options.csv) {
        process.stdout.write(csvLine(['position', 'id', 'token', 'logprob']));
        for (const r of rows) process.stdout.write(csvLine([r.position, r.id, r.token, r.logprob]));
        note(
          `loss ${loss.toFixed(4)} nats, perplexity ${perplexity.toFixed(2)} over ${rows.length} tokens`,
        );
      } else {
        process.stdout.write(
          formatTable(
            ['position', 'id', 'token', 'logprob'],
            rows.map((r) => [
              String(r.position),
              String(r.id),
              showToken({ text: r.token, partial: r.partial_utf8 }),
              r.logprob.toFixed(4),
            ]),
          ),
        );
        process.stdout.write(
          `${rows.length} tokens scored (the first has no context): loss ${loss.toFixed(4)} nats/token, perplexity ${perplexity.toFixed(2)}\n`,
        );
      }
    } finally {
      loaded.dispose();
    }
  });
}
