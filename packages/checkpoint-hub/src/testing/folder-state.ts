import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Everything under `root` except the folder `skip` (and what is below it), as sorted lines: a
 * folder, a file with the sha256 of its content, or a link with its target. Two states compare
 * equal only if nothing there was created, removed, changed or re-pointed.
 */
export function folderState(root: string, skip?: string): string[] {
  const lines: string[] = [];
  const visit = (folder: string) => {
    for (const name of readdirSync(folder).sort()) {
      const path = join(folder, name);
      if (path === skip) continue;
      const rel = relative(root, path);
      const info = lstatSync(path);
      if (info.isSymbolicLink()) lines.push(`link ${rel} -> ${readlinkSync(path)}`);
      else if (info.isDirectory()) {
        lines.push(`dir ${rel}`);
        visit(path);
      } else {
        const digest = createHash('sha256').update(readFileSync(path)).digest('hex');
        lines.push(`file ${rel} ${digest}`);
      }
    }
  };
  visit(root);
  return lines;
}

/**
 * The blobs of a cache's repo folder that are not what their names say: each blob must hash to
 * its name (sha256 for 64 hex digits, git's blob id for 40) and be a file, not a link.
 */
export function damagedBlobs(blobs: string): string[] {
  let names: string[];
  try {
    names = readdirSync(blobs);
  } catch {
    return [];
  }
  return names.filter((name) => {
    if (name.endsWith('.incomplete')) return false;
    const path = join(blobs, name);
    if (!lstatSync(path).isFile()) return true;
    const content = readFileSync(path);
    const actual =
      name.length === 64
        ? createHash('sha256').update(content).digest('hex')
        : createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
    return actual !== name;
  });
}
