import { checkTokenIds } from '@pythiajs/neox-model';
import type { Command } from 'commander';
import { addTextOrIdsOptions, textOrIds } from '../input.js';
import { addModelOptions, loadModel, type ModelOptions, resolveModel } from '../model-options.js';
import { writeNpy } from '../npy.js';
import { modelTokenizer } from '../tokenizer.js';

interface LogitsOptions extends ModelOptions {
  text?: string;
  ids?: string;
  out: string;
  allPositions?: boolean;
  json?: boolean;
}

export function registerLogits(program: Command): void {
  const command = program
    .command('logits')
    .description('write the logits of a text as a NumPy .npy file (float32), for numpy.load')
    .requiredOption('--out <file.npy>', 'where to write the logits')
    .option(
      '--all-positions',
      'every position, shape [positions, vocab] (default: the last, [vocab])',
    )
    .option('--json', 'print {"out", "shape", "dtype"} when done');
  addModelOptions(addTextOrIdsOptions(command)).action(async (options: LogitsOptions) => {
    const target = await resolveModel(options);
    const ids = await textOrIds(options, () => modelTokenizer(target));
    const loaded = await loadModel(target, options, {
      check: (config) => checkTokenIds(ids, config),
      use: () => ({ tokens: ids.length }),
    });
    try {
      const logits = await loaded.model.forward(ids, {
        logits: options.allPositions ? 'all' : 'last',
      });
      const vocab = loaded.model.config.vocabSize;
      const shape = options.allPositions ? [ids.length, vocab] : [vocab];
      await writeNpy(options.out, logits, shape);
      process.stdout.write(
        options.json
          ? `${JSON.stringify({ out: options.out, shape, dtype: 'float32', ids })}\n`
          : `wrote ${options.out}: float32 [${shape.join(', ')}] (numpy.load reads it)\n`,
      );
    } finally {
      loaded.dispose();
    }
  });
}
