import {
  checkReadmeBlocks,
  type ReadmeBlock,
  runReadmeExample,
} from '@pythiajs/vitest-config/readme-example';
import { expect } from 'vitest';

const README = new URL('../README.md', import.meta.url);

async function runsTheExample(block: ReadmeBlock) {
  const run = await runReadmeExample(README, { block: block.index });
  expect(run.stderr).toBe('');
  expect(run.exitCode).toBe(0);
  expect(run.printed).toEqual(run.promised);
  expect(run.promised).toEqual([
    '[12092, 13, 309, 717]',
    'Hello, I am',
    "['Hello', ',', 'ĠI', 'Ġam']",
    'I 🤗 you',
  ]);
}

checkReadmeBlocks(README, {
  0: { language: 'bash', skip: 'the install command' },
  1: { language: 'js', name: 'runs and prints what its comments say', test: runsTheExample },
});
