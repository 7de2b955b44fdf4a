import { runReadmeExample } from '@pythiajs/vitest-config/readme-example';
import { expect, it } from 'vitest';

it("runs the README's example and prints what its comments say", async () => {
  const run = await runReadmeExample(new URL('../README.md', import.meta.url));
  expect(run.stderr).toBe('');
  expect(run.exitCode).toBe(0);
  expect(run.printed).toEqual(run.promised);
  // Greedy takes id 1 (logit 3) with the log-softmax 3 − log(e¹ + e³ + e² + e^0.5) ≈ −0.46077.
  const greedy = /^\{id: (\d+), logprob: (\S+)\}$/.exec(run.printed[0]!);
  expect(Number(greedy?.[1])).toBe(1);
  const logprob = 3 - Math.log(Math.exp(1) + Math.exp(3) + Math.exp(2) + Math.exp(0.5));
  expect(Number(greedy?.[2])).toBeCloseTo(logprob, 12);
  expect(run.printed[2]).toBe('[1, 1, 3, 1, 0]');
});
