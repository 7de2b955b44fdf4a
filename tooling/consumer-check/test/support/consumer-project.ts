import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { workspaceRoot } from './pack.js';
import { run } from './run.js';

/** The version of `name` that the workspace package in `from` has installed. */
function installedVersion(name: string, from: string): string {
  const require = createRequire(join(workspaceRoot, from, 'package.json'));
  const manifest = require.resolve(`${name}/package.json`);
  return JSON.parse(readFileSync(manifest, 'utf8')).version;
}

/**
 * Makes a fresh project in `dir` (outside the workspace) from the files of `consumer/`, that
 * depends on the tarballs as a downstream author's project depends on the published packages,
 * and installs it with pnpm. The packages' dependencies on each other point at the tarballs too
 * (pnpm overrides), so nothing of ours comes from a registry. The tools it adds are the versions
 * the workspace has, so the install takes them from the workspace's store when it can.
 */
export async function createConsumerProject(dir: string, tarballs: Map<string, string>) {
  cpSync(new URL('../../consumer/', import.meta.url), dir, { recursive: true });
  const ours = Object.fromEntries([...tarballs].map(([name, file]) => [name, `file:${file}`]));
  const manifest = {
    name: 'pythiajs-consumer',
    private: true,
    type: 'module',
    dependencies: {
      ...ours,
      webgpu: installedVersion('webgpu', 'packages/tensor-core'),
    },
    devDependencies: {
      '@types/node': installedVersion('@types/node', '.'),
      typescript: installedVersion('typescript', '.'),
      vite: installedVersion('vite', 'apps/demo'),
    },
    pnpm: { overrides: ours, onlyBuiltDependencies: ['esbuild', 'webgpu'] },
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const store = (await run('pnpm', ['store', 'path'], { cwd: workspaceRoot })).stdout.trim();
  // No lockfile: a fresh project resolves, also on CI, where pnpm would otherwise insist on one.
  await run(
    'pnpm',
    [
      'install',
      '--no-frozen-lockfile',
      '--prefer-offline',
      '--store-dir',
      store,
      '--reporter=append-only',
    ],
    { cwd: dir },
  );
}
