import { runReadmeExample } from '@pythiajs/vitest-config/readme-example';
import { expect, it } from 'vitest';

const numbers = (text: string) => [...text.matchAll(/-?\d+\.\d+/g)].map((m) => Number(m[0]));

it("runs the README's example on the machine's adapter and prints what its comments say", async () => {
  const run = await runReadmeExample(new URL('../README.md', import.meta.url));
  expect(run.exitCode).toBe(0);
  expect(run.printed).toEqual(run.promised);
  // gelu(x + 0.5) read back from the GPU, then the CPU reference of the same kernel.
  const [, gpu, cpu] = run.logs.map((l) => l.text);
  expect(gpu).toMatch(/^Float32Array\(5\) /);
  const reference = numbers(cpu!);
  expect(reference).toHaveLength(5);
  numbers(gpu!).forEach((value, i) => {
    expect(value).toBeCloseTo(reference[i]!, 6);
  });
});
