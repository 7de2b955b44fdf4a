import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ByteSource } from '../byte-source.js';
import { EntryNotFoundError, LocalFolderNotFoundError } from '../errors.js';
import type { RepoFile } from '../hub-client.js';
import type { CheckpointStore } from '../remote-store.js';
import { fileSource } from './file-source.js';

/**
 * A checkpoint in a local folder (what `save_pretrained` writes, or a snapshot folder), served as
 * a {@link CheckpointStore} so it opens like a Hub revision. The "repo" is the folder path and
 * the only revision is `local`.
 *
 * @example
 * ```ts
 * const checkpoint = await openCheckpoint('./my-pythia', 'local', new LocalFolderStore());
 * ```
 */
export class LocalFolderStore implements CheckpointStore {
  async resolve(folder: string): Promise<string> {
    const info = await stat(folder).catch(() => undefined);
    if (!info?.isDirectory()) throw new LocalFolderNotFoundError(resolve(folder));
    return 'local';
  }

  async files(folder: string): Promise<RepoFile[]> {
    await this.resolve(folder);
    const out: RepoFile[] = [];
    for (const name of (await readdir(folder)).sort()) {
      const info = await stat(join(folder, name));
      if (info.isFile()) out.push({ path: name, size: info.size, oid: '' });
    }
    return out;
  }

  async open(
    folder: string,
    _revision: string,
    path: string,
  ): Promise<ByteSource & { close(): Promise<void> }> {
    const full = join(folder, path);
    if (!(await stat(full).catch(() => undefined))?.isFile())
      throw new EntryNotFoundError(resolve(folder), 'local', path);
    return fileSource(full);
  }
}
