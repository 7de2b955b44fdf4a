import type { NeoXConfig, WeightDtype } from '@pythiajs/neox-model';
import type { Command } from 'commander';
import { integerOption } from './input.js';
import { type MemoryUse, memoryNeeds } from './memory-check.js';

/** The most sequences a default batch holds: past this, a step is long and gains little. */
export const MAX_DEFAULT_BATCH = 64;

/** What the activations and KV caches of a default batch may take without `--memory-budget`. */
export const DEFAULT_BATCH_BYTES = 2 ** 30;

/** `--batch-size <n>` of the commands that run many sequences (windows, examples). */
export function addBatchSizeOption(command: Command, what: string): Command {
  return command.option(
    '--batch-size <n>',
    `${what} per forward step, run as one packed batch (default: the most whose estimated ` +
      'activations and KV cache fit in what --memory-budget leaves after the weights, or in ' +
      `1 GiB without a budget; at least 1, at most ${MAX_DEFAULT_BATCH})`,
    integerOption('batch-size', 1),
  );
}

/**
 * The batch size a command runs with: `--batch-size` when given, else the largest batch of
 * sequences like `perSequence` whose activations and KV caches (as `memoryNeeds` estimates them:
 * they grow linearly with the batch) fit in what `budget` leaves after the weights, or in
 * {@link DEFAULT_BATCH_BYTES} when there is no budget (none given, or the check turned off). At
 * least 1, whatever the budget (the memory check then says whether one fits), and at most
 * {@link MAX_DEFAULT_BATCH}.
 */
export function batchSize(
  given: number | undefined,
  config: NeoXConfig,
  dtype: WeightDtype,
  perSequence: MemoryUse,
  budget: number | 'none' | undefined,
): number {
  if (given !== undefined) return given;
  const { weights, kvCache, activations } = memoryNeeds(config, dtype, {
    ...perSequence,
    sequences: 1,
  }).estimate;
  const room = typeof budget === 'number' ? budget - weights : DEFAULT_BATCH_BYTES;
  const fits = Math.floor(room / (kvCache + activations));
  return Math.min(MAX_DEFAULT_BATCH, Math.max(1, fits));
}
