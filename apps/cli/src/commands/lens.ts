import { writeFile } from 'node:fs/promises';
import { attentionPatterns, checkTokenIds, logitLens } from '@pythiajs/neox-model';
import type { Command } from 'commander';
import { round } from '../format.js';
import { addTextOrIdsOptions, textOrIds } from '../input.js';
import { addModelOptions, loadModel, type ModelOptions, resolveModel } from '../model-options.js';
import { formatTable } from '../table.js';
import { showToken, tokenLabel } from '../token-label.js';
import { modelTokenizer } from '../tokenizer.js';

interface LensOptions extends ModelOptions {
  text?: string;
  ids?: string;
  attention?: string;
  json?: boolean;
}

export function registerLens(program: Command): void {
  const command = program
    .command('lens')
    .description(
      'logit lens: the top next token and its probability after every layer, at every position',
    )
    .option(
      '--attention <file.json>',
      "also write every layer's attention patterns, [heads, dest, src] as CircuitsVis draws them",
    )
    .option('--json', 'print the lens as JSON');
  addModelOptions(addTextOrIdsOptions(command)).action(async (options: LensOptions) => {
    const target = await resolveModel(options);
    const tokenizer = await modelTokenizer(target);
    const ids = await textOrIds(options, async () => tokenizer);
    const loaded = await loadModel(target, options, {
      check: (config) => checkTokenIds(ids, config),
      use: () => ({ tokens: ids.length }),
    });
    try {
      const labels = ids.map((id) => tokenLabel(tokenizer, id));
      const tokens = labels.map((l) => l.text);
      const layers = await logitLens(loaded.model, ids);
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
      if (options.json) {
        process.stdout.write(
          `${JSON.stringify({
            tokens,
            ids,
            layers: layers.map((l) => ({
              name: l.name,
              top: l.topIds.map((id, i) => {
                const label = tokenLabel(tokenizer, id);
                return { id, token: label.text, partial_utf8: label.partial, prob: l.topProbs[i]! };
              }),
            })),
          })}\n`,
        );
        return;
      }
      process.stdout.write(
        formatTable(
          ['layer', ...labels.map(showToken)],
          layers.map((l) => [
            label(l.name),
            ...l.topIds.map(
              (id, i) => `${showToken(tokenLabel(tokenizer, id))} ${l.topProbs[i]!.toFixed(2)}`,
            ),
          ]),
        ),
      );
      if (options.attention !== undefined)
        process.stdout.write(
          `attention patterns of ${layers.length - 1} layers written to ${options.attention}\n`,
        );
    } finally {
      loaded.dispose();
    }
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
