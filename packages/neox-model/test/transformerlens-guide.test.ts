// docs/transformerlens.md: every TypeScript block runs after the page's setup block (which loads
// the model and the tokenizer), and prints what its comments say.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkReadmeBlocks,
  type ReadmeBlock,
  type ReadmeBlockPlan,
  readmeExamples,
  runReadmeExample,
} from '@pythiajs/vitest-config/readme-example';
import { afterAll, beforeAll, expect } from 'vitest';
import { servePythia70m } from './local-hub.js';

const GUIDE = new URL('../../../docs/transformerlens.md', import.meta.url);
const PACKAGE = new URL('..', import.meta.url);
const blocks = readmeExamples(GUIDE);
const setup = blocks.find((b) => b.language === 'ts')!;

let hub: Awaited<ReturnType<typeof servePythia70m>>;
const scratch = mkdtempSync(join(tmpdir(), 'transformerlens-guide-'));
beforeAll(async () => {
  hub = await servePythia70m();
});
afterAll(async () => {
  await hub?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** Runs `block` after the setup block (as one module, in this package) and checks its output. */
async function runsAfterSetup(block: ReadmeBlock) {
  const code = block.index === setup.index ? setup.code : `${setup.code}\n${block.code}`;
  const page = join(scratch, `block-${block.index}.md`);
  writeFileSync(page, `\`\`\`ts\n${code}\`\`\`\n`);
  const run = await runReadmeExample(page, { block: 0, dir: PACKAGE, env: hub.env });
  expect(run.stderr).not.toMatch(/Error/);
  expect(run.exitCode).toBe(0);
  expect(run.printed.length).toBeGreaterThan(0);
  expect(run.printed).toEqual(run.promised);
}

const plan: Record<number, ReadmeBlockPlan> = {};
for (const block of blocks) {
  plan[block.index] =
    block.language === 'python'
      ? { language: 'python', skip: 'TransformerLens, for comparison' }
      : {
          language: 'ts',
          name:
            block.index === setup.index
              ? 'loads the model and tokenizer'
              : 'runs after the setup block',
          test: runsAfterSetup,
          timeout: 120_000,
        };
}
checkReadmeBlocks(GUIDE, plan);
