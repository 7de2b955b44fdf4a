import { runReadmeExample } from '@pythiajs/vitest-config/readme-example';
import { expect, it } from 'vitest';

it("runs the README's example and prints what its comments say", async () => {
  const run = await runReadmeExample(new URL('../README.md', import.meta.url));
  expect(run.stderr).toBe('');
  expect(run.exitCode).toBe(0);
  expect(run.printed).toEqual(run.promised);
  expect(run.promised).toEqual([
    '[12092, 13, 309, 717]',
    'Hello, I am',
    "['Hello', ',', 'ĠI', 'Ġam']",
    'I 🤗 you',
  ]);
});
