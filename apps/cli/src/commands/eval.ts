import { readFile } from 'node:fs/promises';
import { checkTokenIds, type NeoXConfig, type WeightDtype } from '@pythiajs/neox-model';
import type { Command } from 'commander';
import { addBatchSizeOption, batchSize } from '../batch-size.js';
import { UsageError } from '../errors.js';
import { integerOption } from '../input.js';
import { lambadaMetrics, lambadaRequest, parseLambadaJsonl, scoreLambada } from '../lambada.js';
import type { MemoryUse } from '../memory-check.js';
import { addModelOptions, loadModel, type ModelOptions, resolveModel } from '../model-options.js';
import { countBar } from '../progress.js';
import { modelTokenizer } from '../tokenizer.js';

interface LambadaOptions extends ModelOptions {
  file: string;
  limit?: number;
  batchSize?: number;
  json?: boolean;
}

export function registerEval(program: Command): void {
  const evaluate = program
    .command('eval')
    .description('benchmarks computed as lm-evaluation-harness does');
  const lambada = evaluate
    .command('lambada')
    .description(
      "LAMBADA (OpenAI) accuracy and perplexity as lm-evaluation-harness's lambada_openai: the last word's tokens, greedy match",
    )
    .requiredOption(
      '--file <lambada_test.jsonl>',
      'the test set, one {"text": …} per line (5153 lines)',
    )
    .option('--limit <n>', 'only the first n examples', integerOption('limit', 1))
    .option('--json', 'print one JSON object');
  addBatchSizeOption(lambada, 'examples');
  addModelOptions(lambada).action(async (options: LambadaOptions) => {
    const jsonl = await readFile(options.file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read --file ${options.file}: ${error.code ?? error.message}`);
    });
    const texts = parseLambadaJsonl(jsonl, options.file).slice(0, options.limit);
    const target = await resolveModel(options);
    const tokenizer = await modelTokenizer(target);
    const requests = texts.map((text) => lambadaRequest(text, tokenizer));
    const longest = Math.max(1, ...requests.map((r) => r.context.length + r.target.length));
    // How many examples run at once, for a model's context and the weights' dtype.
    const plan = (config: NeoXConfig, dtype: WeightDtype): { batch: number; use: MemoryUse } => {
      const perExample = {
        tokens: Math.min(longest, config.maxPositions),
        logits: 'scored' as const,
      };
      const batch = batchSize(options.batchSize, config, dtype, perExample, options.memoryBudget);
      return { batch, use: { ...perExample, sequences: Math.min(batch, requests.length) } };
    };
    const loaded = await loadModel(target, options, {
      check: (config) => {
        // Each request is cut to the context, as the harness does: the vocabulary counts, and a
        // target that alone is longer than the context, which no cut can score.
        checkTokenIds(
          requests.flatMap((r) => [...r.context, ...r.target]),
          config,
          { room: Number.POSITIVE_INFINITY },
        );
        const long = requests.findIndex((r) => r.target.length > config.maxPositions);
        if (long !== -1)
          throw new UsageError(
            `the last word of example ${long + 1} is ${requests[long]!.target.length} tokens, more than the model's context of ${config.maxPositions}`,
          );
      },
      use: (config, dtype) => plan(config, dtype).use,
    });
    const bar = countBar('lambada_openai');
    try {
      const { batch } = plan(loaded.model.config, loaded.model.dtype);
      const results = [];
      bar.update(0, requests.length);
      for (let first = 0; first < requests.length; first += batch) {
        results.push(...(await scoreLambada(loaded.model, requests.slice(first, first + batch))));
        bar.update(results.length, requests.length);
      }
      bar.stop();
      const metrics = lambadaMetrics(results);
      const about = {
        task: 'lambada_openai',
        model: loaded.checkpoint.repo,
        revision: loaded.checkpoint.revision,
        commit: loaded.checkpoint.commit,
        examples: results.length,
        ...metrics,
      };
      process.stdout.write(
        options.json
          ? `${JSON.stringify(about)}\n`
          : `lambada_openai  ${loaded.target.label}  acc ${metrics.acc.toFixed(4)} ± ${metrics.acc_stderr.toFixed(4)}  ` +
              `perplexity ${metrics.perplexity.toFixed(2)}  (${results.length} examples)\n`,
      );
    } finally {
      bar.stop();
      loaded.dispose();
    }
  });
}
