import { readFileSync } from 'node:fs';
import { FakeHub } from '@pythiajs/checkpoint-hub/testing';

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
 * A local Hub (API, `resolve` with 302s to a CDN origin, CORS, Range) serving
 * `fixtures/tiny-neox-f16` under three branches. The weights are the same file on each (the
 * "across training" rows then agree, which is all a test needs); only `main` carries a
 * `tokenizer.json`, so the other branches take the tokenizer the site bundles.
 */
export async function startTinyHub(): Promise<FakeHub> {
  const weights = {
    'config.json': fixture('tiny-neox-f16/config.json'),
    'model.safetensors': fixture('tiny-neox-f16/model.safetensors'),
  };
  return new FakeHub({
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
  }).start();
}
