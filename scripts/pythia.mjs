#!/usr/bin/env node
// `pnpm pythia …`: builds the CLI and what it depends on (turbo, cached), then runs it. The build
// is silent unless it fails, so stdout and stderr carry only what the command prints (with
// `reporter: silent` in pnpm-workspace.yaml, pnpm adds nothing either). The command gets the terminal as it
// is, runs in the directory pnpm was called from, and its exit status or signal is passed on.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const turbo = join(
  root,
  'node_modules',
  '.bin',
  process.platform === 'win32' ? 'turbo.cmd' : 'turbo',
);

const build = spawnSync(
  turbo,
  ['run', 'build', '--filter=@pythiajs/cli...', '--output-logs=errors-only'],
  { cwd: root, encoding: 'utf8', shell: process.platform === 'win32' },
);
if (build.status !== 0) {
  // What turbo printed says why; it is shown only now, on stderr.
  process.stderr.write(`${build.stdout ?? ''}${build.stderr ?? ''}`);
  const why = build.error ? build.error.message : `exit status ${build.status ?? build.signal}`;
  process.stderr.write(`pythia: building the CLI failed (${why}); see the output above\n`);
  process.exit(1);
}

// pnpm runs scripts in the workspace root; INIT_CWD is where it was called, so that relative
// paths (--file essay.txt, --out x.npy) mean what they say.
const child = spawn(
  process.execPath,
  [join(root, 'apps/cli/dist/bin.js'), ...process.argv.slice(2)],
  {
    // biome-ignore lint/suspicious/noUndeclaredEnvVars: set by pnpm for this script, no turbo task
    cwd: process.env.INIT_CWD ?? process.cwd(),
    stdio: 'inherit',
  },
);
// A signal for this wrapper is the CLI's to handle (Ctrl-C reaches both: the CLI gets it twice,
// which ends it all the same); the wrapper waits and then ends as the CLI did.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}
child.on('error', (error) => {
  process.stderr.write(`pythia: cannot start the CLI: ${error.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) {
    // End the same way, so that the shell sees a death by that signal (130 for SIGINT, …).
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
