import { findDuplicateCheckpoints, HubClient, parseModelRef } from '@pythiajs/checkpoint-hub';
import { NodeHubCache } from '@pythiajs/checkpoint-hub/node';
import { checkTokenIds, type NeoXConfig, type WeightDtype } from '@pythiajs/neox-model';
import { topKWithProbabilities } from '@pythiajs/sampler';
import type { Command } from 'commander';
import { addBatchSizeOption } from '../batch-size.js';
import { UsageError } from '../errors.js';
import { integerOption, readTextInput } from '../input.js';
import {
  addModelOptions,
  loadModel,
  type ModelOptions,
  type ModelTarget,
  sharedDevice,
} from '../model-options.js';
import { repoCheckpoints } from '../revisions.js';
import { scoreText, scoringPlan } from '../scoring.js';
import { warn } from '../style.js';
import { csvLine, formatTable } from '../table.js';
import { showToken, tokenLabel } from '../token-label.js';
import { modelTokenizer } from '../tokenizer.js';

interface SweepOptions extends ModelOptions {
  revisions: string;
  prompt?: string;
  file?: string;
  topK: number;
  batchSize?: number;
  json?: boolean;
  csv?: boolean;
}

interface SweepRow {
  revision: string;
  commit: string;
  /** Mean negative log-likelihood of the text's tokens after the first (nats); null for 1 token. */
  loss: number | null;
  /**
   * The next tokens, most likely first. `token` is the text; for a token that is only part of a
   * UTF-8 character, its byte-level spelling (see `tokenLabel`), with `partial_utf8` true.
   */
  top: Array<{ id: number; token: string; partial_utf8: boolean; prob: number }>;
}

export function registerSweep(program: Command): void {
  const command = program
    .command('sweep')
    .description(
      "the same prompt's next-token top-k and the same text's loss across training checkpoints",
    )
    .requiredOption(
      '--revisions <list>',
      'checkpoints: step0,step1000,… or all (every stepN branch)',
    )
    .option('--prompt <text>', 'the text')
    .option('--file <path>', 'read the text from a file')
    .option('--top-k <k>', 'next tokens to show', integerOption('top-k', 1), 5)
    .option('--json', 'print one JSON object')
    .option('--csv', 'print one CSV row per checkpoint');
  addBatchSizeOption(command, "windows of the text's loss");
  addModelOptions(command).action(async (options: SweepOptions) => {
    if (options.json && options.csv) throw new UsageError('give --json or --csv, not both');
    if (options.revision !== undefined)
      throw new UsageError('sweep takes its checkpoints from --revisions, not --revision');
    if (options.model.includes('@'))
      throw new UsageError(
        'sweep takes its checkpoints from --revisions; give --model without @revision',
      );
    const { repo } = parseModelRef(options.model);
    const store = new NodeHubCache();
    const revisions =
      options.revisions.trim() === 'all'
        ? await repoCheckpoints(repo)
        : options.revisions
            .split(',')
            .map((r) => r.trim())
            .filter((r) => r !== '');
    if (revisions.length === 0) throw new UsageError('--revisions names no checkpoint');
    const text = await readTextInput(options.prompt, options.file);
    const target = (revision: string): ModelTarget => ({
      repo,
      revision,
      store,
      local: false,
      label: `${repo}@${revision}`,
    });
    const tokenizer = await modelTokenizer(target(revisions[0]!));
    const ids = tokenizer.encode(text);
    if (ids.length === 0) throw new UsageError('the text is empty');

    // The Hub's known defects (branches serving the same weights) show as identical rows; say so
    // before the numbers are read as a training effect. Listings only, nothing is downloaded.
    const duplicates = store.offline
      ? { identical: [], sharedFiles: [] }
      : await findDuplicateCheckpoints(new HubClient(), repo, revisions);
    for (const group of duplicates.identical)
      warn(`${group.join(', ')} of ${repo} have identical weights: their rows are one checkpoint`);
    for (const file of duplicates.sharedFiles)
      warn(
        `${file.revisions.join(', ')} of ${repo} share ${file.path} (sha256 ${file.sha256.slice(0, 12)}…)`,
      );

    // The loss is scoreText's: windows of the context, `batch` of them per step. The top-k comes
    // from one pass over the text's last context, which the estimate of a window covers.
    const plan = (config: NeoXConfig, dtype: WeightDtype) =>
      scoringPlan(ids.length, config, dtype, options);
    const device = sharedDevice(options);
    const rows: SweepRow[] = [];
    try {
      for (const revision of revisions) {
        const loaded = await loadModel(target(revision), options, {
          device: device.get,
          check: (config) => checkTokenIds(ids, config, { room: Number.POSITIVE_INFINITY }),
          use: (config, dtype) => plan(config, dtype).use,
        });
        try {
          const { model } = loaded;
          const context = ids.slice(-model.config.maxPositions);
          const last = await model.forward(context, { logits: 'last' });
          const loss =
            ids.length > 1
              ? (await scoreText(model, ids, { batchSize: plan(model.config, model.dtype).batch }))
                  .loss
              : null;
          rows.push({
            revision,
            commit: loaded.checkpoint.commit,
            loss,
            top: topKWithProbabilities(last, options.topK).map(({ id, prob }) => {
              const label = tokenLabel(tokenizer, id);
              return { id, token: label.text, partial_utf8: label.partial, prob };
            }),
          });
        } finally {
          loaded.dispose();
        }
      }
    } finally {
      await device.destroy();
    }
    print(rows, options, { repo, ids, identical: duplicates.identical });
  });
}

function print(
  rows: readonly SweepRow[],
  options: SweepOptions,
  about: { repo: string; ids: number[]; identical: string[][] },
): void {
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({ model: about.repo, prompt_ids: about.ids, identical_weights: about.identical, checkpoints: rows })}\n`,
    );
    return;
  }
  const k = options.topK;
  if (options.csv) {
    const topHeader = Array.from({ length: k }, (_, i) => [
      `top${i + 1}_id`,
      `top${i + 1}_token`,
      `top${i + 1}_prob`,
    ]).flat();
    process.stdout.write(csvLine(['revision', 'commit', 'loss', ...topHeader]));
    for (const r of rows) {
      process.stdout.write(
        csvLine([
          r.revision,
          r.commit,
          r.loss ?? '',
          ...r.top.flatMap((t) => [t.id, t.token, t.prob]),
        ]),
      );
    }
    return;
  }
  process.stdout.write(
    formatTable(
      ['revision', 'loss', `next token (top ${k})`],
      rows.map((r) => [
        r.revision,
        r.loss === null ? '–' : r.loss.toFixed(4),
        r.top
          .map(
            (t) => `${showToken({ text: t.token, partial: t.partial_utf8 })} ${t.prob.toFixed(3)}`,
          )
          .join('  '),
      ]),
    ),
  );
}
