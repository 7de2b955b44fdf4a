import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it("runs the README's example and prints what its comments say", () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const example = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(example).toBeDefined();
  // Inside the package folder, so `@pythiajs/tokenizer` resolves to this package (self-reference).
  const file = fileURLToPath(new URL('../readme-example.tmp.mjs', import.meta.url));
  writeFileSync(file, example!);
  try {
    const run = spawnSync(process.execPath, [file], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const printed = run.stdout.trim().split('\n');
    const promised = [...example!.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]);
    expect(printed).toEqual(promised);
  } finally {
    rmSync(file, { force: true });
  }
});
