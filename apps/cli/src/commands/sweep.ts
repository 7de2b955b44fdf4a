import { findDuplicateCheckpoints, HubClient, parseModelRef } from '@pythiajs/checkpoint-hub';
import { NodeHubCache } from '@pythiajs/checkpoint-hub/node';
import {
  checkTokenIds,
  type LensLayer,
  logitLens,
  type NeoXConfig,
  type WeightDtype,
} from '@pythiajs/neox-model';
import { topKWithProbabilities } from '@pythiajs/sampler';
import type { Tokenizer } from '@pythiajs/tokenizer';
import type { Command } from 'commander';
import { addBatchSizeOption } from '../batch-size.js';
import { checkChosenToken, chosenToken, formatProbability } from '../chosen-token.js';
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
  lensToken?: string;
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
  /**
   * With `--lens-token`: the logit lens at the text's last position, the token's probability and
   * rank (how many ids have a strictly larger logit; 0: the top choice) after the embedding
   * (`hook_embed`) and after every block (`blocks.{l}.hook_resid_post`).
   */
  lens?: SweepLens;
}

interface SweepLens {
  id: number;
  token: string;
  partial_utf8: boolean;
  /** The position of the text the lens reads (its last, 0-based). */
  position: number;
  layers: Array<{ name: string; prob: number; rank: number }>;
}

export function registerSweep(program: Command): void {
  const command = program
    .command('sweep')
    .description(
      "the same prompt's next-token top-k and the same text's loss across training checkpoints; " +
        "with --lens-token, that token's probability after every layer (logit lens)",
    )
    .requiredOption(
      '--revisions <list>',
      'checkpoints: step0,step1000,… or all (every stepN branch)',
    )
    .option('--prompt <text>', 'the text')
    .option('--file <path>', 'read the text from a file')
    .option('--top-k <k>', 'next tokens to show', integerOption('top-k', 1), 5)
    .option(
      '--lens-token <text or id>',
      "also the logit lens: this token's probability and rank after every layer, at the text's " +
        "last position: its text (one token, e.g. ' Paris') or its id",
    )
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
    // The lens's token, refused (exit 2) before anything is downloaded when it is not one token.
    const lensToken =
      options.lensToken === undefined
        ? undefined
        : chosenToken(tokenizer, options.lensToken, '--lens-token');

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
          check: (config) => {
            checkTokenIds(ids, config, { room: Number.POSITIVE_INFINITY });
            if (lensToken !== undefined) checkChosenToken(lensToken, config, '--lens-token');
          },
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
          // The lens of the same context, at its last position (the text's last token).
          const lens =
            lensToken === undefined
              ? undefined
              : sweepLens(
                  tokenizer,
                  lensToken,
                  ids.length - 1,
                  await logitLens(model, context, { tokens: [lensToken], positions: [-1] }),
                );
          rows.push({
            revision,
            commit: loaded.checkpoint.commit,
            loss,
            top: topKWithProbabilities(last, options.topK).map(({ id, prob }) => {
              const label = tokenLabel(tokenizer, id);
              return { id, token: label.text, partial_utf8: label.partial, prob };
            }),
            ...(lens === undefined ? {} : { lens }),
          });
        } finally {
          loaded.dispose();
        }
      }
    } finally {
      await device.destroy();
    }
    print(rows, options, { repo, ids, identical: duplicates.identical, tokenizer });
  });
}

/** A checkpoint's lens as its row holds it. */
function sweepLens(
  tokenizer: Tokenizer,
  token: number,
  position: number,
  layers: readonly LensLayer[],
): SweepLens {
  const label = tokenLabel(tokenizer, token);
  return {
    id: token,
    token: label.text,
    partial_utf8: label.partial,
    position,
    layers: layers.map((l) => ({
      name: l.name,
      prob: l.chosen!.prob[0]!,
      rank: l.chosen!.rank[0]!,
    })),
  };
}

function print(
  rows: readonly SweepRow[],
  options: SweepOptions,
  about: { repo: string; ids: number[]; identical: string[][]; tokenizer: Tokenizer },
): void {
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({ model: about.repo, prompt_ids: about.ids, identical_weights: about.identical, checkpoints: rows })}\n`,
    );
    return;
  }
  const k = options.topK;
  const layers = lensLayerNames(rows);
  if (options.csv) {
    const topHeader = Array.from({ length: k }, (_, i) => [
      `top${i + 1}_id`,
      `top${i + 1}_token`,
      `top${i + 1}_prob`,
    ]).flat();
    const lensHeader = layers.flatMap((name) => [`lens_p_${name}`, `lens_rank_${name}`]);
    process.stdout.write(csvLine(['revision', 'commit', 'loss', ...topHeader, ...lensHeader]));
    for (const r of rows) {
      const lens = layers.flatMap((name): Array<string | number> => {
        const layer = r.lens?.layers.find((l) => l.name === name);
        return layer === undefined ? ['', ''] : [layer.prob, layer.rank];
      });
      process.stdout.write(
        csvLine([
          r.revision,
          r.commit,
          r.loss ?? '',
          ...r.top.flatMap((t) => [t.id, t.token, t.prob]),
          ...lens,
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
  const lens = rows[0]?.lens;
  if (lens === undefined) return;
  // The lens: a row per checkpoint, the token's probability after each layer.
  const short = (name: string) =>
    name === 'hook_embed' ? 'embed' : name.replace(/^blocks\.(\d+)\.hook_resid_post$/, 'L$1');
  process.stdout.write(
    `\nposition ${lens.position}, after ${showToken(tokenLabel(about.tokenizer, about.ids[lens.position]!))}: ` +
      `p(${showToken({ text: lens.token, partial: lens.partial_utf8 })}) by layer\n`,
  );
  process.stdout.write(
    formatTable(
      ['revision', ...layers.map(short)],
      rows.map((r) => [
        r.revision,
        ...layers.map((name) => {
          const layer = r.lens?.layers.find((l) => l.name === name);
          return layer === undefined ? '–' : formatProbability(layer.prob);
        }),
      ]),
    ),
  );
}

/**
 * The layers of the rows' lenses, in order: all checkpoints of a repo have the same, but a
 * checkpoint with fewer layers leaves the others' cells empty rather than shifting them.
 */
function lensLayerNames(rows: readonly SweepRow[]): string[] {
  const names = new Set<string>();
  for (const r of rows) for (const l of r.lens?.layers ?? []) names.add(l.name);
  return [...names];
}
