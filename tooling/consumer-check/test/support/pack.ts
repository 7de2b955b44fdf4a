import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './run.js';

/** The repository's root. */
export const workspaceRoot = new URL('../../../../', import.meta.url).pathname;

/** The workspace's published packages (every package.json that is not private), by name. */
export function publishedPackages(): Map<string, string> {
  const found = new Map<string, string>();
  for (const group of ['packages', 'apps']) {
    for (const folder of readdirSync(join(workspaceRoot, group))) {
      const dir = join(workspaceRoot, group, folder);
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (!pkg.private) found.set(pkg.name, dir);
    }
  }
  return found;
}

/**
 * Packs every published package with `pnpm pack`, as `pnpm publish` would (its `workspace:`
 * ranges become versions), into `destination`; returns each tarball's path by package name.
 * The packages must be built.
 */
export async function packAll(destination: string): Promise<Map<string, string>> {
  const tarballs = new Map<string, string>();
  for (const [name, dir] of publishedPackages()) {
    const before = new Set(readdirSync(destination));
    await run('pnpm', ['pack', '--pack-destination', destination], { cwd: dir });
    const made = readdirSync(destination).filter((f) => !before.has(f) && f.endsWith('.tgz'));
    if (made.length !== 1)
      throw new Error(`pnpm pack of ${name} made ${made.join(', ') || 'nothing'}`);
    tarballs.set(name, join(destination, made[0]!));
  }
  return tarballs;
}
