import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeHub } from '@pythiajs/checkpoint-hub/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bin,
  fixtureCommit,
  fixtureFolder,
  hubEnv,
  pythia,
  repoRoot,
  runProcess as run,
} from './support.js';

// What a user sees on each stream is the command's own output and nothing else: no stack trace
// when a reader goes away, no notices of the GPU library, no banner of the package manager.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pythia-hygiene-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a reader that closes the pipe early', () => {
  let text: string;
  beforeAll(() => {
    text = join(dir, 'big.txt');
    writeFileSync(text, 'It was the best of times, it was the worst of times. '.repeat(100_000));
  });

  it('ends the command quietly with status 0, as head expects of Unix tools', async () => {
    const { code, stderr, received } = await new Promise<{
      code: number | null;
      stderr: string;
      received: number;
    }>((resolve, reject) => {
      const child = spawn(process.execPath, [bin, 'tokenize', '--file', text], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let received = 0;
      let stderr = '';
      // Like `head -c 10`: read a little, then close the read end.
      child.stdout.once('data', (chunk: Buffer) => {
        received = chunk.length;
        child.stdout.destroy();
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr, received }));
    });
    expect(received).toBeGreaterThan(0); // about 6 MB of ids were on their way
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('does the same in a shell pipeline', async () => {
    const script = `"${process.execPath}" "${bin}" tokenize --file "${text}" 2>"${dir}/err"; echo $? > "${dir}/status"`;
    const { stdout } = await run('sh', ['-c', `{ ${script}; } | head -c 10`]);
    expect(stdout).toBe('1147,369,2');
    expect(readFileSync(join(dir, 'err'), 'utf8')).toBe('');
    expect(readFileSync(join(dir, 'status'), 'utf8').trim()).toBe('0');
  });
});

describe('a tokenizer.json that cannot be used', () => {
  let hub: FakeHub;
  let env: Record<string, string | undefined>;
  const f16 = fixtureCommit('tiny-neox-f16');
  beforeAll(async () => {
    const main = 'b'.repeat(40);
    const repo = (tokenizer: string) => ({
      branches: { main },
      commits: { [main]: { ...f16, 'tokenizer.json': tokenizer } },
    });
    const repos = {
      'EleutherAI/pythia-notjson': repo('{"model": '),
      'EleutherAI/pythia-wordpiece': repo(JSON.stringify({ model: { type: 'WordPiece' } })),
    };
    hub = await new FakeHub(repos).start();
    env = hubEnv(hub.hubOrigin, join(dir, 'cache'));
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('exits 1 (the file is at fault, not the call) with one line naming the file', async () => {
    const notJson = await pythia(['generate', '--model', 'EleutherAI/pythia-notjson', 'Hi'], {
      env,
    });
    expect(notJson.code).toBe(1);
    expect(notJson.stdout).toBe('');
    expect(notJson.stderr).toMatch(
      /^pythia: tokenizer\.json of EleutherAI\/pythia-notjson@main is not a GPT-NeoX tokenizer: not valid JSON: .*; if the cached copy is damaged, run pythia cache rm EleutherAI\/pythia-notjson@main and try again/,
    );
    expect(notJson.stderr.trim().split('\n')).toHaveLength(1);

    const wordPiece = await pythia(['score', '--model', 'EleutherAI/pythia-wordpiece', 'a b'], {
      env,
    });
    expect(wordPiece.code).toBe(1);
    expect(wordPiece.stderr).toMatch(
      /^pythia: tokenizer\.json of EleutherAI\/pythia-wordpiece@main is not a GPT-NeoX tokenizer: it uses model\.type = "WordPiece", which @pythiajs\/tokenizer does not implement;/,
    );
    expect(wordPiece.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('names the file in a local folder, which can be removed to use the shared tokenizer', async () => {
    const folder = join(dir, 'local-checkpoint');
    mkdirSync(folder, { recursive: true });
    for (const [name, content] of Object.entries(f16)) writeFileSync(join(folder, name), content);
    writeFileSync(join(folder, 'tokenizer.json'), '[]');
    const run = await pythia(['lens', '--model', folder, '--text', 'Hi']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `pythia: tokenizer.json of ${folder} is not a GPT-NeoX tokenizer: must be a JSON object; ` +
        `fix or remove ${join(folder, 'tokenizer.json')} (without it, the GPT-NeoX-20B tokenizer every Pythia model shares is used)\n`,
    );
  });
});

describe('Dawn, the WebGPU library', () => {
  const logits = (out: string) => [
    'logits',
    '--model',
    fixtureFolder('tiny-neox-f16'),
    '--text',
    'Hello',
    '--out',
    out,
  ];
  const wrote = (out: string) => `wrote ${out}: float32 [50304] (numpy.load reads it)\n`;

  // Dawn prints two notices of its own on every adapter start with lavapipe. Where stderr goes
  // decides how the CLI keeps them out: a socket (as here) or a file is relayed through a filter;
  // a terminal or a shell pipe has them filtered in-process.
  it("leaves a GPU command's stderr empty where it is a socket", async () => {
    const out = join(dir, 'socket.npy');
    expect(await pythia(logits(out))).toEqual({ code: 0, stdout: wrote(out), stderr: '' });
  });

  it('... where it is a shell pipe', async () => {
    const out = join(dir, 'pipe.npy');
    const args = [bin, ...logits(out)].map((a) => `'${a}'`).join(' ');
    // The command's stderr goes through a pipe to cat, whose output is what the test reads.
    const piped = await run('sh', ['-c', `'${process.execPath}' ${args} 2>&1 >/dev/null | cat`]);
    expect(piped).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('... where it is a file', async () => {
    const out = join(dir, 'file.npy');
    const file = join(dir, 'stderr-of-logits.txt');
    const fd = openSync(file, 'w');
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, [bin, ...logits(out)], {
        stdio: ['ignore', 'ignore', fd],
      });
      child.on('error', reject);
      child.on('close', resolve);
    });
    expect(code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('');
  });

  // The in-process filter, on what a native library writes to descriptor 2 (not through
  // process.stderr), in a child process whose stderr is a pipe.
  const filterScript = `
    import { writeSync } from 'node:fs';
    import { filterNativeStderr } from ${JSON.stringify(new URL('../dist/native-stderr.js', import.meta.url).href)};
    process.stderr.write('before\\n');
    const value = filterNativeStderr(() => {
      writeSync(2, 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\\n');
      writeSync(2, 'Error: something else native code said\\n');
      return 42;
    }, (line) => /artificially reduced/.test(line));
    process.stderr.write('after ' + value + '\\n');
  `;

  it('drops the matching lines written below Node, keeps the others, and restores stderr', async () => {
    const piped = await run(
      'sh',
      ['-c', `'${process.execPath}' --input-type=module -e "$FILTER_SCRIPT" 2>&1 | cat`],
      { env: { FILTER_SCRIPT: filterScript } },
    );
    expect(piped).toEqual({
      code: 0,
      stdout: 'before\nError: something else native code said\nafter 42\n',
      stderr: '',
    });
  });

  it('leaves a regular file alone (reopening it would clobber offsets it shares)', async () => {
    const file = join(dir, 'stderr.txt');
    const fd = openSync(file, 'w');
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', filterScript], {
        stdio: ['ignore', 'ignore', fd],
      });
      child.on('error', reject);
      child.on('close', resolve);
    });
    expect(code).toBe(0);
    expect(readFileSync(file, 'utf8').split('\n')).toEqual([
      'before',
      expect.stringMatching(/^Warning: maxDynamicUniformBuffersPerPipelineLayout/),
      'Error: something else native code said',
      'after 42',
      '',
    ]);
  });
});

describe('pnpm pythia, as the README runs it', () => {
  it('prints only the command output: no banner of pnpm, no build log', async () => {
    const run1 = await run('pnpm', ['pythia', 'tokenize', 'Hello'], { cwd: repoRoot });
    expect(run1).toEqual({ code: 0, stdout: '12092\n', stderr: '' });
  }, 600_000);

  it('shows a failing command as its one line and exit code', async () => {
    const failed = await run('pnpm', ['pythia', 'generate', '--temperature', 'x'], {
      cwd: repoRoot,
    });
    expect(failed).toEqual({
      code: 2,
      stdout: '',
      stderr: 'pythia: --temperature must be a number in [0, 100], got "x"\n',
    });
  }, 600_000);

  // The wrapper itself, in a copy of the repository's layout with stand-ins for turbo and the CLI.
  describe('scripts/pythia.mjs', () => {
    let root: string;
    beforeAll(() => {
      root = join(dir, 'repo');
      for (const folder of ['scripts', 'node_modules/.bin', 'apps/cli/dist'])
        mkdirSync(join(root, folder), { recursive: true });
      copyFileSync(join(repoRoot, 'scripts/pythia.mjs'), join(root, 'scripts/pythia.mjs'));
      const turbo = join(root, 'node_modules/.bin/turbo');
      writeFileSync(
        turbo,
        '#!/bin/sh\necho "src/x.ts(1,1): error TS2322"\necho "on stderr" >&2\n[ -z "$FAKE_TURBO_STATUS" ] || exit "$FAKE_TURBO_STATUS"\n',
      );
      chmodSync(turbo, 0o755);
      writeFileSync(
        join(root, 'apps/cli/dist/bin.js'),
        `console.log(JSON.stringify({ args: process.argv.slice(2), cwd: process.cwd() }));
         if (process.argv[2] === 'signal') process.kill(process.pid, 'SIGTERM');
         process.exitCode = Number(process.argv[3] ?? 0);`,
      );
    });
    const wrapper = () => join(root, 'scripts/pythia.mjs');

    it('builds silently, then runs the command where pnpm was called, passing its exit code', async () => {
      const ran = await run(process.execPath, [wrapper(), 'exit', '3'], {
        env: { INIT_CWD: tmpdir() },
      });
      expect(ran).toEqual({
        code: 3,
        stdout: `${JSON.stringify({ args: ['exit', '3'], cwd: tmpdir() })}\n`,
        stderr: '',
      });
    });

    it('ends by the signal that ended the command', async () => {
      const ran = await new Promise<NodeJS.Signals | null>((resolve, reject) => {
        const child = spawn(process.execPath, [wrapper(), 'signal'], { stdio: 'ignore' });
        child.on('error', reject);
        child.on('close', (_code, signal) => resolve(signal));
      });
      expect(ran).toBe('SIGTERM');
    });

    it("shows the build's output, and one line, only when the build fails", async () => {
      const ran = await run(process.execPath, [wrapper(), 'exit', '0'], {
        env: { FAKE_TURBO_STATUS: '1' },
      });
      expect(ran).toEqual({
        code: 1,
        stdout: '',
        stderr:
          'src/x.ts(1,1): error TS2322\non stderr\n' +
          'pythia: building the CLI failed (exit status 1); see the output above\n',
      });
    });
  });
});
