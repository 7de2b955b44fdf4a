import {
  checkTokenIds,
  type GeneratedToken,
  generate,
  type StopReason,
} from '@pythiajs/neox-model';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { integerOption, numberOption, parseIds, readTextInput } from '../input.js';
import { catchInterrupt } from '../interrupt.js';
import { addModelOptions, loadModel, type ModelOptions, resolveModel } from '../model-options.js';
import { StreamedText } from '../streamed-text.js';
import { note } from '../style.js';
import { modelTokenizer } from '../tokenizer.js';

interface GenerateOptions extends ModelOptions {
  ids?: string;
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repetitionPenalty: number;
  seed: number;
  stop: string[];
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerGenerate(program: Command): void {
  const command = program
    .command('generate')
    .description('continue a prompt with a Pythia model, streaming the text')
    .argument('[prompt]', 'the prompt (default: standard input)')
    .option('--ids <ids>', 'the prompt as token ids 1,2,3 instead of text')
    .option('--max-new-tokens <n>', 'tokens to generate', integerOption('max-new-tokens', 1), 64)
    .option('--temperature <t>', '0 = greedy', numberOption('temperature', 0, 100), 1)
    .option('--top-k <k>', 'keep the k most likely tokens; 0 = off', integerOption('top-k', 0), 0)
    .option(
      '--top-p <p>',
      'nucleus sampling; 1 = off',
      numberOption('top-p', Number.MIN_VALUE, 1),
      1,
    )
    .option(
      '--min-p <p>',
      'drop tokens below p × the top probability; 0 = off',
      numberOption('min-p', 0, 1),
      0,
    )
    .option(
      '--repetition-penalty <x>',
      'Hugging Face repetition penalty; 1 = off',
      numberOption('repetition-penalty', Number.MIN_VALUE, 100),
      1,
    )
    .option(
      '--seed <n>',
      'random seed (same seed, same text, on every machine)',
      integerOption('seed', 0),
      0,
    )
    .option('--stop <text>', 'end before this text (repeatable)', collect, [])
    .option('--json', 'print one JSON object at the end instead of streaming');
  addModelOptions(command).action(async (prompt: string | undefined, options: GenerateOptions) => {
    if (prompt !== undefined && options.ids !== undefined)
      throw new UsageError('give the prompt as text or as --ids, not both');
    const target = await resolveModel(options);
    const tokenizer = await modelTokenizer(target);
    const ids =
      options.ids !== undefined
        ? parseIds(options.ids)
        : tokenizer.encode(await readTextInput(prompt, undefined));
    const loaded = await loadModel(target, options, {
      check: (config) => checkTokenIds(ids, config),
      // Generation keeps a KV cache of the whole context.
      use: (config) => ({ tokens: ids.length, contextLength: config.maxPositions }),
    });
    const interrupt = catchInterrupt();
    const streamed = new StreamedText();
    try {
      const tokens = generate(loaded.model, {
        ids,
        tokenizer,
        maxNewTokens: options.maxNewTokens,
        temperature: options.temperature,
        topK: options.topK,
        topP: options.topP,
        minP: options.minP,
        repetitionPenalty: options.repetitionPenalty,
        seed: options.seed,
        stop: options.stop,
        signal: interrupt.signal,
      });
      const start = performance.now();
      let firstAt = 0;
      const generated: GeneratedToken[] = [];
      let reason: StopReason;
      for (;;) {
        const next = await tokens.next();
        if (next.done) {
          reason = next.value;
          break;
        }
        if (generated.length === 0) firstAt = performance.now();
        generated.push(next.value);
        if (!options.json) streamed.write(next.value.text);
      }
      const end = performance.now();
      // Decode speed excludes the prefill: tokens after the first, over the time they took.
      const tokensPerS =
        generated.length > 1
          ? ((generated.length - 1) * 1000) / (end - firstAt)
          : (generated.length * 1000) / (end - start);
      const prefillMs = firstAt - start;
      const text = generated.map((t) => t.text).join('');
      if (options.json) {
        process.stdout.write(
          `${JSON.stringify({
            model: loaded.checkpoint.repo,
            revision: loaded.checkpoint.revision,
            commit: loaded.checkpoint.commit,
            dtype: loaded.model.dtype,
            prompt_ids: ids,
            ids: generated.map((t) => t.id),
            text,
            logprobs: generated.map((t) => t.logprob),
            stop_reason: reason,
            prefill_ms: prefillMs,
            tokens_per_s: tokensPerS,
          })}\n`,
        );
      } else {
        streamed.end();
        note(
          `${generated.length} tokens (${reason}) · prefill ${prefillMs.toFixed(0)} ms for ${ids.length} tokens · ` +
            `${tokensPerS.toFixed(1)} tokens/s · load ${loaded.loadSeconds.toFixed(1)} s`,
        );
      }
    } finally {
      interrupt.release();
      // Also when generation failed part-way: the error line then starts a line of its own.
      streamed.end();
      loaded.dispose();
    }
    interrupt.exitAsSignalled();
  });
}
