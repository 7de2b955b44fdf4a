import { readFileSync } from 'node:fs';
import { FakeHub } from '@pythiajs/checkpoint-hub/testing';
import type { PiqaRow } from '@pythiajs/evals';
import { parquetOf } from '@pythiajs/vitest-config/parquet';

const fixture = (path: string) =>
  new Uint8Array(readFileSync(new URL(`../../../../fixtures/${path}`, import.meta.url)));

/** The repository the tests load: the shared 2-layer random checkpoint with the real vocabulary. */
export const TINY_REPO = 'EleutherAI/pythia-tiny';

/** Its branches, as training checkpoints are published, each at a commit of its own. */
export const TINY_BRANCHES = {
  step0: '0'.repeat(40),
  step1000: '1'.repeat(40),
  main: 'f'.repeat(40),
};

/**
 * The same tiny weights under the name of a model with official evaluation results, at one of
 * the checkpoints EleutherAI published results for, so that a live run has an official number to
 * stand beside.
 */
export const OFFICIAL_REPO = 'EleutherAI/pythia-70m';
export const OFFICIAL_BRANCHES = { step3000: '3'.repeat(40) };

/** The piqa task's dataset on the Hub, and the commits of its main and Parquet branches. */
export const PIQA_DATASET = 'ybisk/piqa';
export const PIQA_BRANCHES = { main: 'a'.repeat(40), 'refs/convert/parquet': 'c'.repeat(40) };

/**
 * Twelve rows in ybisk/piqa's schema (`plain_text`, `validation`): enough that the harness's
 * shuffle picks a few of them out of order.
 */
export const PIQA_ROWS: PiqaRow[] = [
  ['To keep bread fresh', 'store it in a sealed bag.', 'store it in the sun.'],
  ['How do I boil an egg?', 'Put it in boiling water for ten minutes.', 'Put it in the freezer.'],
  ['To dry wet shoes', 'stuff them with newspaper.', 'fill them with water.'],
  ['How can I cool a hot drink quickly?', 'Add ice cubes to it.', 'Heat it in the oven.'],
  ['To sharpen a pencil', 'use a pencil sharpener.', 'use a spoon.'],
  ['How do you open a jar with a tight lid?', 'Run the lid under hot water.', 'Paint the lid.'],
  ['To light a dark room', 'turn on a lamp.', 'close the curtains.'],
  ['How do I stop a door from squeaking?', 'Oil the hinges.', 'Slam it harder.'],
  ['To water a plant', 'pour water into its pot.', 'pour sand into its pot.'],
  [
    'How can I find north without a compass?',
    'Look where the sun rises and turn left.',
    'Spin around.',
  ],
  ['To clean a window', 'wipe it with soapy water.', 'wipe it with mud.'],
  ['How do I make tea?', 'Steep tea leaves in hot water.', 'Steep tea leaves in cold oil.'],
].map(([goal, right, wrong], n) =>
  // The right solution is sol1 in even rows and sol2 in odd ones.
  n % 2 === 0
    ? { goal: goal!, sol1: right!, sol2: wrong!, label: 0 }
    : { goal: goal!, sol1: wrong!, sol2: right!, label: 1 },
);

/**
 * A local Hub (API, `resolve` with 302s to a CDN origin, CORS, Range) serving
 * `fixtures/tiny-neox-f16` under three branches. The weights are the same file on each (the
 * "across training" rows then agree, which is all a test needs); only `main` carries a
 * `tokenizer.json`, so the other branches take the tokenizer the site bundles. The same weights
 * are also {@link OFFICIAL_REPO} at `step3000`, and {@link PIQA_ROWS} are the dataset
 * {@link PIQA_DATASET}, with its Parquet conversion; the Hub has no other task's dataset.
 */
export async function startTinyHub(): Promise<FakeHub> {
  const weights = {
    'config.json': fixture('tiny-neox-f16/config.json'),
    'model.safetensors': fixture('tiny-neox-f16/model.safetensors'),
  };
  return new FakeHub(
    {
      [TINY_REPO]: {
        branches: TINY_BRANCHES,
        commits: {
          [TINY_BRANCHES.step0]: weights,
          [TINY_BRANCHES.step1000]: weights,
          [TINY_BRANCHES.main]: {
            ...weights,
            'tokenizer.json': fixture('gpt-neox-20b/tokenizer.json'),
          },
        },
      },
      [OFFICIAL_REPO]: {
        branches: OFFICIAL_BRANCHES,
        commits: { [OFFICIAL_BRANCHES.step3000]: weights },
      },
    },
    {
      datasets: {
        [PIQA_DATASET]: {
          branches: PIQA_BRANCHES,
          commits: {
            [PIQA_BRANCHES.main]: { 'README.md': '# piqa\n' },
            [PIQA_BRANCHES['refs/convert/parquet']]: {
              'plain_text/validation/0000.parquet': parquetOf(PIQA_ROWS),
            },
          },
        },
      },
    },
  ).start();
}
