import { writeFile } from 'node:fs/promises';
import {
  attentionPatterns,
  checkTokenIds,
  type LensLayer,
  logitLens,
  NO_RANK,
} from '@pythiajs/neox-model';
import { MAX_TOPK } from '@pythiajs/tensor-core';
import type { Tokenizer } from '@pythiajs/tokenizer';
import type { Command } from 'commander';
import { checkChosenToken, chosenToken, formatProbability } from '../chosen-token.js';
import { UsageError } from '../errors.js';
import { round } from '../format.js';
import { addTextOrIdsOptions, integerOption, textOrIds } from '../input.js';
import { addModelOptions, loadModel, type ModelOptions, resolveModel } from '../model-options.js';
import { formatTable } from '../table.js';
import { showToken, type TokenLabel, tokenLabel } from '../token-label.js';
import { modelTokenizer } from '../tokenizer.js';

interface LensOptions extends ModelOptions {
  text?: string;
  ids?: string;
  attention?: string;
  json?: boolean;
  topK?: number;
  token?: string;
  target?: string;
  position?: string;
}

/** A token of the JSON output. */
interface JsonToken {
  id: number;
  token: string;
  partial_utf8: boolean;
  prob: number;
}

export function registerLens(program: Command): void {
  const command = program
    .command('lens')
    .description(
      'logit lens: the top next token and its probability after every layer, at every position; ' +
        'with --top-k or --token, the top k and a chosen token’s probability and rank per layer',
    )
    .option(
      '--top-k <k>',
      `the k likeliest next tokens per layer (k ≤ ${MAX_TOPK}) at the positions of --position`,
      integerOption('top-k', 1),
    )
    .option(
      '--token <text or id>',
      "a token whose probability and rank to show per layer: its text (one token, e.g. ' Paris') or its id",
    )
    .option('--target <next>', "next: follow each position's actual next token instead")
    .option(
      '--position <list>',
      'positions to show, 0-based, negative from the end (e.g. -1 or 0,3); default: all, ' +
        'or the last one with --top-k, --token or --target',
    )
    .option(
      '--attention <file.json>',
      "also write every layer's attention patterns, [heads, dest, src] as CircuitsVis draws them",
    )
    .option('--json', 'print the lens as JSON');
  addModelOptions(addTextOrIdsOptions(command)).action(async (options: LensOptions) => {
    const { topK } = options;
    if (topK !== undefined && topK > MAX_TOPK) {
      throw new UsageError(`--top-k must be at most ${MAX_TOPK}, got ${topK}`);
    }
    if (options.token !== undefined && options.target !== undefined) {
      throw new UsageError('give --token or --target next, not both');
    }
    if (options.target !== undefined && options.target !== 'next') {
      throw new UsageError(`--target takes next (the actual next token), got "${options.target}"`);
    }
    const detailed =
      topK !== undefined || options.token !== undefined || options.target !== undefined;
    const given = options.position === undefined ? undefined : parsePositions(options.position);
    const target = await resolveModel(options);
    const tokenizer = await modelTokenizer(target);
    const ids = await textOrIds(options, async () => tokenizer);
    const token =
      options.token === undefined ? undefined : chosenToken(tokenizer, options.token, '--token');
    // (No ids at all: the model's check says so below.)
    const shown = ids.length === 0 ? [] : (given ?? (detailed ? [-1] : ids.map((_, t) => t)));
    const positions = shown.map((p) => {
      if (p < -ids.length || p >= ids.length) {
        throw new UsageError(
          `--position ${p} is not a position of the ${ids.length} token${ids.length === 1 ? '' : 's'} (give ${-ids.length} to ${ids.length - 1})`,
        );
      }
      return p < 0 ? p + ids.length : p;
    });
    const loaded = await loadModel(target, options, {
      check: (config) => {
        checkTokenIds(ids, config);
        if (token !== undefined) checkChosenToken(token, config, '--token');
      },
      use: () => ({ tokens: ids.length }),
    });
    try {
      const labels = ids.map((id) => tokenLabel(tokenizer, id));
      const tokens = labels.map((l) => l.text);
      const layers = await logitLens(loaded.model, ids, {
        positions,
        topK,
        tokens:
          options.target === 'next'
            ? 'next'
            : token === undefined
              ? undefined
              : positions.map(() => token),
      });
      // The chosen token of each shown position: --token's, or the actual next one (none at
      // the end).
      const chosen = positions.map((p) =>
        token !== undefined ? token : options.target === 'next' ? ids[p + 1] : undefined,
      );
      const label = (name: string) =>
        name === 'hook_embed'
          ? 'embed'
          : name.replace(/^blocks\.(\d+)\.hook_resid_post$/, 'layer $1');
      if (options.attention !== undefined) {
        const patterns = await attentionPatterns(loaded.model, ids);
        const json = {
          tokens,
          ids,
          layers: patterns.map((p, layer) => ({
            layer,
            shape: p.shape,
            pattern: nest(p.data, p.shape),
          })),
        };
        try {
          await writeFile(options.attention, `${JSON.stringify(json)}\n`);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
          throw new Error(
            `cannot write ${options.attention} (${code}); check that its folder exists`,
          );
        }
      }
      const entry = (id: number, prob: number): JsonToken => {
        const l = tokenLabel(tokenizer, id);
        return { id, token: l.text, partial_utf8: l.partial, prob };
      };
      if (options.json) {
        process.stdout.write(
          `${JSON.stringify({
            tokens,
            ids,
            positions,
            layers: layers.map((l) => ({
              name: l.name,
              top: l.topIds.map((id, i) => entry(id, l.topProbs[i]!)),
              ...(l.topK
                ? {
                    top_k: positions.map((_, i) =>
                      Array.from(l.topK!.ids.subarray(i * topK!, (i + 1) * topK!), (id, j) =>
                        entry(id, l.topK!.probs[i * topK! + j]!),
                      ),
                    ),
                  }
                : {}),
              ...(l.chosen
                ? {
                    chosen: chosen.map((id, i) =>
                      id === undefined || l.chosen!.rank[i] === NO_RANK
                        ? null
                        : {
                            ...entry(id, l.chosen!.prob[i]!),
                            logprob: l.chosen!.logprob[i]!,
                            rank: l.chosen!.rank[i]!,
                          },
                    ),
                  }
                : {}),
            })),
          })}\n`,
        );
        return;
      }
      if (detailed) {
        process.stdout.write(
          positions
            .map((p, i) =>
              positionTable(layers, i, {
                position: p,
                at: labels[p]!,
                chosen: chosen[i],
                label,
                tokenizer,
                topK,
              }),
            )
            .join('\n'),
        );
      } else {
        process.stdout.write(
          formatTable(
            ['layer', ...positions.map((p) => showToken(labels[p]!))],
            layers.map((l) => [
              label(l.name),
              ...l.topIds.map(
                (id, i) => `${showToken(tokenLabel(tokenizer, id))} ${l.topProbs[i]!.toFixed(2)}`,
              ),
            ]),
          ),
        );
      }
      if (options.attention !== undefined)
        process.stdout.write(
          `attention patterns of ${layers.length - 1} layers written to ${options.attention}\n`,
        );
    } finally {
      loaded.dispose();
    }
  });
}

/**
 * One position's lens as a table: a row per layer with the chosen token's probability and rank
 * (when there is one) and the top k (or the top 1), under a line naming the position.
 */
function positionTable(
  layers: readonly LensLayer[],
  i: number,
  about: {
    position: number;
    at: TokenLabel;
    chosen: number | undefined;
    label: (name: string) => string;
    tokenizer: Tokenizer;
    topK: number | undefined;
  },
): string {
  const { tokenizer, chosen } = about;
  const show = (id: number) => showToken(tokenLabel(tokenizer, id));
  const k = about.topK ?? 1;
  const withChosen = layers[0]?.chosen !== undefined && chosen !== undefined;
  const heading =
    `position ${about.position}, after ${showToken(about.at)}` +
    (withChosen ? `: p(${show(chosen)}) by layer` : '');
  const header = [
    'layer',
    ...(withChosen ? ['p', 'rank'] : []),
    ...Array.from({ length: k }, (_, j) => (k === 1 ? 'top' : `top ${j + 1}`)),
  ];
  const rows = layers.map((l) => {
    const top = l.topK
      ? Array.from(
          l.topK.ids.subarray(i * k, (i + 1) * k),
          (id, j) => `${show(id)} ${l.topK!.probs[i * k + j]!.toFixed(3)}`,
        )
      : [`${show(l.topIds[i]!)} ${l.topProbs[i]!.toFixed(3)}`];
    const mark = withChosen
      ? [formatProbability(l.chosen!.prob[i]!), String(l.chosen!.rank[i]!)]
      : [];
    return [about.label(l.name), ...mark, ...top];
  });
  const none =
    layers[0]?.chosen !== undefined && chosen === undefined
      ? '(the last position has no next token)\n'
      : '';
  return `${heading}\n${none}${formatTable(header, rows)}`;
}

/** `--position`'s list: integers, negative ones counting from the end. */
function parsePositions(text: string): number[] {
  const parts = text.split(/[\s,]+/).filter((p) => p !== '');
  if (parts.length === 0)
    throw new UsageError('--position names no position (write them as 0,3 or -1)');
  return parts.map((p) => {
    if (!/^-?\d+$/.test(p)) {
      throw new UsageError(`--position "${p}" is not a position (0-based, negative from the end)`);
    }
    return Number(p);
  });
}

/** Row-major values as nested arrays of `shape` (7 significant digits, as float32 holds). */
function nest(data: Float32Array, shape: readonly number[]): unknown {
  const [first, ...rest] = shape;
  if (first === undefined) return round(data[0]!, 7);
  const size = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: first }, (_, i) =>
    rest.length === 0 ? round(data[i]!, 7) : nest(data.subarray(i * size, (i + 1) * size), rest),
  );
}
