/// <reference types="node" />
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { ByteSource } from '../byte-source.js';
import { offlineFromEnv } from '../env.js';
import { EntryNotFoundError, HubNetworkError, IntegrityError, NotCachedError } from '../errors.js';
import { blobName } from '../hash.js';
import { type FileProgress, HubClient, type RepoFile } from '../hub-client.js';
import type { CheckpointStore } from '../remote-store.js';
import { defaultCacheDir, repoFolderName } from './cache-dir.js';
import { fileSource } from './file-source.js';
import { withLock } from './lock.js';

/** Options of {@link NodeHubCache}. */
export interface NodeHubCacheOptions {
  /** Default: as huggingface_hub (`HF_HUB_CACHE`, `HF_HOME`, `~/.cache/huggingface/hub`). */
  dir?: string;
  /** Default: a client configured from `HF_ENDPOINT`/`HF_TOKEN`. */
  client?: HubClient;
  /** Never touch the network. Default: `HF_HUB_OFFLINE`. */
  offline?: boolean;
}

/** A revision in the cache. */
export interface CachedRevision {
  commit: string;
  /** Branches and tags that point to it (`main`, `step3000`). */
  refs: string[];
  files: Array<{ path: string; size: number }>;
  /** Bytes of its files (blobs shared with other revisions are counted in each). */
  size: number;
}

/** A repository in the cache. */
export interface CachedRepo {
  repo: string;
  revisions: CachedRevision[];
  /** Bytes on disk: each blob once, however many revisions share it. */
  size: number;
}

const COMMIT = /^[0-9a-f]{40}$/;

/**
 * A file's blob name and a hash to check its content with: sha256 (LFS) or git's sha1, computed
 * by Node's native crypto, several times faster than a JavaScript hash on gigabyte weights.
 */
function checksum(file: RepoFile): { etag: string; hash: () => Hash } {
  const hash = () =>
    file.lfs ? createHash('sha256') : createHash('sha1').update(`blob ${file.size}\0`);
  return { etag: blobName(file), hash };
}

/**
 * The Hugging Face hub cache on disk, laid out exactly as Python's `huggingface_hub` lays it out,
 * so both share downloads either way:
 *
 *     models--EleutherAI--pythia-70m/
 *       blobs/<sha256 or git sha1>            file contents, verified, written atomically
 *       snapshots/<commit>/<path>             relative symlinks into blobs/
 *       refs/<branch>                         the commit a branch pointed to when last resolved
 *
 * A download goes to `blobs/<etag>.incomplete` (resumed if a previous process left one), is
 * verified against the checksum the Hub lists, then renamed into place, under a lock so that
 * concurrent processes never write the same blob.
 *
 * @example
 * ```ts
 * import { NodeHubCache } from '@pythiajs/checkpoint-hub/node';
 * const cache = new NodeHubCache();
 * const path = await cache.file('EleutherAI/pythia-70m-deduped', 'step3000', 'config.json');
 * ```
 */
export class NodeHubCache implements CheckpointStore {
  readonly dir: string;
  readonly offline: boolean;
  readonly client: HubClient;
  private readonly commits = new Map<string, Promise<string>>();
  private readonly listings = new Map<string, Promise<RepoFile[]>>();

  constructor(options: NodeHubCacheOptions = {}) {
    this.dir = options.dir ?? defaultCacheDir();
    this.offline = options.offline ?? offlineFromEnv();
    this.client = options.client ?? new HubClient();
  }

  private repoDir(repo: string): string {
    return join(this.dir, repoFolderName(repo));
  }

  /** The commit a revision points to: from the Hub, or from `refs/` when offline or unreachable. */
  resolve(repo: string, revision: string, signal?: AbortSignal): Promise<string> {
    const key = `${repo}@${revision}`;
    let commit = this.commits.get(key);
    if (!commit) {
      commit = this.resolveUncached(repo, revision, signal);
      commit.catch(() => this.commits.delete(key));
      this.commits.set(key, commit);
    }
    return commit;
  }

  private async resolveUncached(
    repo: string,
    revision: string,
    signal?: AbortSignal,
  ): Promise<string> {
    // A commit never changes: with its snapshot on disk there is nothing to ask the Hub.
    const snapshot =
      COMMIT.test(revision) && (await exists(join(this.repoDir(repo), 'snapshots', revision)));
    if (this.offline || snapshot) return this.resolveOffline(repo, revision);
    try {
      const { commit } = await this.client.revision(repo, revision, signal);
      if (commit !== revision) await this.writeRef(repo, revision, commit);
      return commit;
    } catch (error) {
      // As huggingface_hub: when the Hub cannot be reached, what is cached still serves.
      if (error instanceof HubNetworkError) {
        const cached = await this.resolveOffline(repo, revision).catch(() => undefined);
        if (cached) return cached;
      }
      throw error;
    }
  }

  private async resolveOffline(repo: string, revision: string): Promise<string> {
    const root = this.repoDir(repo);
    if (COMMIT.test(revision) && (await exists(join(root, 'snapshots', revision)))) return revision;
    const ref = await readFile(join(root, 'refs', revision), 'utf8').catch(() => undefined);
    if (ref && COMMIT.test(ref.trim())) return ref.trim();
    throw new NotCachedError(repo, revision);
  }

  private async writeRef(repo: string, revision: string, commit: string): Promise<void> {
    const path = join(this.repoDir(repo), 'refs', revision);
    if ((await readFile(path, 'utf8').catch(() => undefined)) === commit) return;
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${process.pid}.tmp`;
    await writeFile(temporary, commit);
    await rename(temporary, path);
  }

  /** The files of a revision with sizes and checksums (from the Hub; from the snapshot offline). */
  async files(repo: string, revision: string, signal?: AbortSignal): Promise<RepoFile[]> {
    const commit = await this.resolve(repo, revision, signal);
    if (this.offline) return this.snapshotFiles(repo, commit);
    const key = `${repo}@${commit}`;
    let listing = this.listings.get(key);
    if (!listing) {
      listing = this.client.listFiles(repo, commit, signal);
      listing.catch(() => this.listings.delete(key));
      this.listings.set(key, listing);
    }
    return listing;
  }

  private async snapshotFiles(repo: string, commit: string): Promise<RepoFile[]> {
    const root = join(this.repoDir(repo), 'snapshots', commit);
    const out: RepoFile[] = [];
    for (const path of await walk(root)) {
      const blob = await readlink(join(root, path)).catch(() => '');
      const name = blob.split(/[\\/]/).pop() ?? '';
      const { size } = await stat(join(root, path));
      out.push({
        path,
        size,
        oid: name,
        ...(name.length === 64 ? { lfs: { sha256: name, size } } : {}),
      });
    }
    return out;
  }

  /**
   * The local path of a file of a revision, downloading (and verifying) it first if needed.
   *
   * @throws {NotCachedError} offline and not cached.
   * @throws {EntryNotFoundError} the revision has no such file.
   * @throws {IntegrityError} the download does not match the Hub's checksum (it was discarded).
   */
  async file(
    repo: string,
    revision: string,
    path: string,
    options: { onProgress?: (progress: FileProgress) => void; signal?: AbortSignal } = {},
  ): Promise<string> {
    const commit = await this.resolve(repo, revision, options.signal);
    const root = this.repoDir(repo);
    const snapshotPath = join(root, 'snapshots', commit, ...path.split('/'));
    if (await exists(snapshotPath)) return snapshotPath;
    if (this.offline) throw new NotCachedError(repo, revision, path);

    const file = (await this.files(repo, commit, options.signal)).find((f) => f.path === path);
    if (!file) throw new EntryNotFoundError(repo, revision, path);
    const { etag, hash } = checksum(file);
    const blobPath = join(root, 'blobs', etag);
    await mkdir(dirname(blobPath), { recursive: true });
    await withLock(
      join(this.dir, '.locks', repoFolderName(repo), `${etag}.lock`),
      async () => {
        if (await exists(blobPath)) return;
        await this.download(repo, commit, file, blobPath, hash, options);
      },
      options.signal,
    );
    await mkdir(dirname(snapshotPath), { recursive: true });
    await symlink(relative(dirname(snapshotPath), blobPath), snapshotPath).catch(async (error) => {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    });
    options.onProgress?.({ path, loaded: file.size, total: file.size });
    return snapshotPath;
  }

  private async download(
    repo: string,
    commit: string,
    file: RepoFile,
    blobPath: string,
    hash: () => Hash,
    options: { onProgress?: (progress: FileProgress) => void; signal?: AbortSignal },
  ): Promise<void> {
    const incomplete = `${blobPath}.incomplete`;
    // Resume what an interrupted process left: its bytes are hashed again before continuing.
    let digest = hash();
    let length = 0;
    if (await exists(incomplete)) {
      length = (await stat(incomplete)).size;
      if (length > file.size) {
        await truncate(incomplete, 0);
        length = 0;
      } else {
        for await (const chunk of createReadStream(incomplete)) digest.update(chunk as Buffer);
      }
    }
    const handle = await open(incomplete, 'a');
    try {
      await this.client.download(
        repo,
        commit,
        file.path,
        {
          get length() {
            return length;
          },
          async append(chunk) {
            await handle.write(chunk);
            digest.update(chunk);
            length += chunk.length;
          },
          async reset() {
            await handle.truncate(0);
            digest = hash();
            length = 0;
          },
        },
        { size: file.size, onProgress: options.onProgress, signal: options.signal },
      );
    } finally {
      await handle.close();
    }
    const actual = digest.digest('hex');
    const { etag } = checksum(file);
    if (actual !== etag) {
      await rm(incomplete, { force: true });
      throw new IntegrityError(file.path, etag, actual);
    }
    await rename(incomplete, blobPath);
  }

  /** A file of a revision as a {@link ByteSource} (downloaded and verified first if needed). */
  async open(
    repo: string,
    revision: string,
    path: string,
    options: { onProgress?: (p: FileProgress) => void; signal?: AbortSignal } = {},
  ): Promise<ByteSource & { close(): Promise<void> }> {
    return fileSource(await this.file(repo, revision, path, options));
  }

  /** Every cached repository with its revisions, files and sizes. */
  async list(): Promise<CachedRepo[]> {
    const repos: CachedRepo[] = [];
    for (const folder of (await readdir(this.dir).catch(() => [] as string[])).sort()) {
      if (!folder.startsWith('models--')) continue;
      const repo = folder.slice('models--'.length).replace('--', '/');
      const root = join(this.dir, folder);
      const refs = await readRefs(root);
      const revisions: CachedRevision[] = [];
      for (const commit of (
        await readdir(join(root, 'snapshots')).catch(() => [] as string[])
      ).sort()) {
        const files: Array<{ path: string; size: number }> = [];
        for (const path of await walk(join(root, 'snapshots', commit))) {
          const size = await stat(join(root, 'snapshots', commit, path)).then(
            (s) => s.size,
            () => 0,
          );
          files.push({ path, size });
        }
        revisions.push({
          commit,
          refs: [...refs]
            .filter(([, c]) => c === commit)
            .map(([name]) => name)
            .sort(),
          files,
          size: files.reduce((n, f) => n + f.size, 0),
        });
      }
      let size = 0;
      for (const blob of await readdir(join(root, 'blobs')).catch(() => [] as string[])) {
        size += (await stat(join(root, 'blobs', blob))).size;
      }
      repos.push({ repo, revisions, size });
    }
    return repos;
  }

  /**
   * Deletes a revision (its snapshot, the refs pointing to it, and blobs no other revision uses),
   * or the whole repository when no revision is given. Returns the bytes freed.
   */
  async remove(repo: string, revision?: string): Promise<number> {
    const root = this.repoDir(repo);
    const before = await dirSize(join(root, 'blobs'));
    if (revision === undefined) {
      await rm(root, { recursive: true, force: true });
      return before;
    }
    const commit = await this.resolveOffline(repo, revision);
    await rm(join(root, 'snapshots', commit), { recursive: true, force: true });
    for (const [name, target] of await readRefs(root)) {
      if (target === commit) await rm(join(root, 'refs', name), { force: true });
    }
    const used = new Set<string>();
    for (const other of await readdir(join(root, 'snapshots')).catch(() => [] as string[])) {
      for (const path of await walk(join(root, 'snapshots', other))) {
        used.add((await readlink(join(root, 'snapshots', other, path))).split(/[\\/]/).pop()!);
      }
    }
    for (const blob of await readdir(join(root, 'blobs')).catch(() => [] as string[])) {
      if (!used.has(blob)) await rm(join(root, 'blobs', blob), { force: true });
    }
    return before - (await dirSize(join(root, 'blobs')));
  }

  /** Re-hashes every blob (of one repository, or all); returns the damaged or incomplete ones. */
  async verify(repo?: string): Promise<Array<{ repo: string; blob: string; problem: string }>> {
    const problems: Array<{ repo: string; blob: string; problem: string }> = [];
    for (const cached of await this.list()) {
      if (repo !== undefined && cached.repo !== repo) continue;
      const blobs = join(this.repoDir(cached.repo), 'blobs');
      for (const blob of await readdir(blobs).catch(() => [] as string[])) {
        if (blob.endsWith('.incomplete')) {
          problems.push({
            repo: cached.repo,
            blob,
            problem: 'an interrupted download (resumed on next use)',
          });
          continue;
        }
        const size = (await stat(join(blobs, blob))).size;
        const digest =
          blob.length === 64 ? createHash('sha256') : createHash('sha1').update(`blob ${size}\0`);
        for await (const chunk of createReadStream(join(blobs, blob)))
          digest.update(chunk as Buffer);
        const actual = digest.digest('hex');
        if (actual !== blob)
          problems.push({ repo: cached.repo, blob, problem: `content hashes to ${actual}` });
      }
    }
    return problems;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Relative paths (with '/') of the files under `root`; symlinks count as files. */
async function walk(root: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(root, prefix)).catch(() => [] as string[])).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const info = await lstat(join(root, rel));
    if (info.isDirectory()) out.push(...(await walk(root, rel)));
    else out.push(rel);
  }
  return out;
}

async function readRefs(root: string): Promise<Map<string, string>> {
  const refs = new Map<string, string>();
  for (const name of await walk(join(root, 'refs'))) {
    refs.set(name.split(sep).join('/'), (await readFile(join(root, 'refs', name), 'utf8')).trim());
  }
  return refs;
}

async function dirSize(dir: string): Promise<number> {
  let size = 0;
  for (const name of await readdir(dir).catch(() => [] as string[]))
    size += (await stat(join(dir, name))).size;
  return size;
}
