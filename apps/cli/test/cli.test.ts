import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

/** Runs the built `pythia` bin as a user would. */
function pythia(args: string[], input?: string) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    input,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('pythia tokenize / detokenize', () => {
  it('prints the ids of a text, as Hugging Face tokenizers gives them', () => {
    expect(pythia(['tokenize', 'Hello, I am'])).toEqual({
      code: 0,
      stdout: '12092,13,309,717\n',
      stderr: '',
    });
  });

  it('reads standard input and prints JSON with the byte-level tokens', () => {
    const { code, stdout } = pythia(['tokenize', '--json'], 'a    b');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ ids: [66, 50274, 67], tokens: ['a', '    ', 'b'] });
  });

  it('turns ids back into text, skipping special tokens on request', () => {
    expect(pythia(['detokenize', '0,12092,13,309,717,0']).stdout).toBe(
      '<|endoftext|>Hello, I am<|endoftext|>\n',
    );
    expect(pythia(['detokenize', '--skip-special-tokens', '0 12092 13 309 717']).stdout).toBe(
      'Hello, I am\n',
    );
  });
});

describe('pythia generate (before the model package lands)', () => {
  it('shows how the model reads the prompt, and says generation is not available yet', () => {
    const { code, stdout, stderr } = pythia(['generate', 'Hello, I am']);
    expect(code).toBe(0);
    expect(
      stdout
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/)[0]),
    ).toEqual(['12092', '13', '309', '717']);
    expect(stderr).toMatch(/not released yet/);
  });

  it('takes the prompt as ids and the model as name@revision', () => {
    const { code, stdout } = pythia([
      'generate',
      '--json',
      '--ids',
      '1,2,3',
      '--model',
      'pythia-160m@step1000',
    ]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      model: 'EleutherAI/pythia-160m',
      revision: 'step1000',
      prompt_ids: [1, 2, 3],
    });
  });
});

describe('usage errors', () => {
  const cases: Array<[string, string[], RegExp]> = [
    [
      'a negative --max-new-tokens',
      ['generate', '--max-new-tokens', '-1', 'x'],
      /--max-new-tokens must be an integer ≥ 1/,
    ],
    [
      'a temperature out of range',
      ['generate', '--temperature', 'hot', 'x'],
      /--temperature must be a number/,
    ],
    ['an unknown model name', ['generate', '--model', 'pythia-69m', 'x'], /not a Pythia model/],
    ['an unknown command', ['nope'], /unknown command 'nope'/],
    ['ids that are not integers', ['detokenize', '1,x,3'], /"x" is not a token id/],
  ];
  for (const [what, args, message] of cases) {
    it(`exits 2 with one line on ${what}`, () => {
      const { code, stdout, stderr } = pythia(args);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(message);
    });
  }

  it('prints help and exits 0', () => {
    const { code, stdout } = pythia(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/generate/);
    expect(stdout).toMatch(/tokenize/);
  });
});
