import { createHash, type Hash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  stat,
  symlink,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import type { ByteSource } from '../byte-source.js';
import {
  checkCommitId,
  checkListing,
  checkRepoFilePath,
  checkRepoId,
  checkRevision,
  isBlobName,
  isCommitId,
  isRepoId,
} from '../cache-paths.js';
import { offlineFromEnv } from '../env.js';
import {
  DiskFullError,
  EntryNotFoundError,
  HubNetworkError,
  IntegrityError,
  NotCachedError,
  UnsafeHubValueError,
} from '../errors.js';
import { blobName } from '../hash.js';
import { HubClient, type RepoFile } from '../hub-client.js';
import type { CheckpointStore, OpenFileOptions } from '../remote-store.js';
import {
  checkRepoType,
  type RepoOptions,
  type RepoType,
  repoOptions,
  repoTypePlural,
} from '../repo-type.js';
import { defaultCacheDir, repoFolderName } from './cache-dir.js';
import { cacheWriteError, freeBytes, writing } from './cache-errors.js';
import { fileSource } from './file-source.js';
import { type LockHolder, type LockOptions, withLock } from './lock.js';

/** Options of {@link NodeHubCache}. */
export interface NodeHubCacheOptions {
  /** Default: as huggingface_hub (`HF_HUB_CACHE`, `HF_HOME`, `~/.cache/huggingface/hub`). */
  dir?: string;
  /** Default: a client configured from `HF_ENDPOINT`/`HF_TOKEN`. */
  client?: HubClient;
  /** Never touch the network. Default: `HF_HUB_OFFLINE`. */
  offline?: boolean;
  /**
   * How the per-blob download locks judge an abandoned lock (defaults: a heartbeat older than
   * 30 s, an empty lock older than 2 s) and when a waiter says it waits (2 s). For tests.
   */
  lock?: Pick<LockOptions, 'staleMs' | 'graceMs' | 'pollMs' | 'noticeAfterMs'>;
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

/** What a snapshot entry on disk is worth. */
type SnapshotEntry =
  | { state: 'file'; size: number; blob?: string }
  | { state: 'missing' }
  | { state: 'foreign'; target: string };

/**
 * A file's blob name (checked: it becomes a path) and a hash to check its content with: sha256
 * (LFS) or git's sha1, computed by Node's native crypto, several times faster than a JavaScript
 * hash on gigabyte weights.
 */
function checksum(file: RepoFile, source: string): { etag: string; hash: () => Hash } {
  const hash = () =>
    file.lfs ? createHash('sha256') : createHash('sha1').update(`blob ${file.size}\0`);
  return { etag: blobName(file, source), hash };
}

/**
 * The Hugging Face hub cache on disk, laid out exactly as Python's `huggingface_hub` lays it out,
 * so both share downloads either way:
 *
 *     models--EleutherAI--pythia-70m/
 *       blobs/<sha256 or git sha1>            file contents, verified, written atomically
 *       snapshots/<commit>/<path>             relative symlinks into blobs/
 *       refs/<branch>                         the commit a branch pointed to when last resolved
 *     datasets--EleutherAI--lambada_openai/    a dataset ({ repoType: 'dataset' }), laid out alike
 *       refs/refs/convert/parquet             a revision with `/` is a path under refs/
 *
 * A download goes to `blobs/<etag>.incomplete` (resumed if a previous process left one), is
 * verified against the checksum the Hub lists, then renamed into place, under a lock so that
 * concurrent processes never write the same blob.
 *
 * What it guarantees:
 * - every path it builds stays inside {@link dir}: commit ids, file paths, blob names, repo ids
 *   and revisions are checked (see `cache-paths.ts`) before anything is written, else
 *   {@link UnsafeHubValueError}; a snapshot link that leads out of the repo's `blobs/` is never
 *   returned as a cached file;
 * - a lock left by a process that died, hung or crashed is taken over (see `lock.ts`);
 * - a full disk is {@link DiskFullError} at once (the partial file is kept to resume), a cache
 *   that cannot be written is {@link CacheNotWritableError}.
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
  private readonly lockTimings: NonNullable<NodeHubCacheOptions['lock']>;
  /** By `{repoType}:{repo}@{revision}`. */
  private readonly commits = new Map<string, Promise<string>>();
  private readonly listings = new Map<string, Promise<RepoFile[]>>();

  constructor(options: NodeHubCacheOptions = {}) {
    this.dir = options.dir ?? defaultCacheDir();
    this.offline = options.offline ?? offlineFromEnv();
    this.client = options.client ?? new HubClient();
    this.lockTimings = options.lock ?? {};
  }

  /** Where the Hub's answers come from, for the errors that refuse them. */
  private get endpoint(): string {
    return this.client.endpoint;
  }

  /**
   * The last line of defence behind the checks of each value: a path the cache built lies inside
   * {@link dir}. Never reached with checked values; it would catch a gap in those checks.
   */
  private inside(path: string): string {
    const rel = relative(this.dir, path);
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel))
      throw new UnsafeHubValueError('cache path', path, '');
    return path;
  }

  private repoDir(repo: string, repoType: RepoType): string {
    return this.inside(join(this.dir, repoFolderName(checkRepoId(repo, ''), repoType)));
  }

  private snapshotPath(root: string, commit: string, path: string): string {
    const parts = checkRepoFilePath(path, '').split('/');
    return this.inside(join(root, 'snapshots', checkCommitId(commit, this.endpoint), ...parts));
  }

  /**
   * The commit a revision points to: from the Hub, or from `refs/` when offline or unreachable.
   * The last argument is a signal, or {@link RepoOptions} (`{ repoType: 'dataset' }`).
   */
  resolve(repo: string, revision: string, options?: AbortSignal | RepoOptions): Promise<string> {
    let repoType: RepoType;
    let signal: AbortSignal | undefined;
    try {
      ({ repoType, signal } = repoOptions(options));
    } catch (error) {
      return Promise.reject(error);
    }
    const key = `${repoType}:${repo}@${revision}`;
    let commit = this.commits.get(key);
    if (!commit) {
      commit = this.resolveUncached(repo, revision, repoType, signal);
      commit.catch(() => this.commits.delete(key));
      this.commits.set(key, commit);
    }
    return commit;
  }

  private async resolveUncached(
    repo: string,
    revision: string,
    repoType: RepoType,
    signal?: AbortSignal,
  ): Promise<string> {
    // The caller's own values become `models--…` and `refs/<revision>`: checked before anything.
    const root = this.repoDir(repo, repoType);
    checkRevision(revision, '');
    // A commit never changes: with its snapshot on disk there is nothing to ask the Hub.
    const snapshot = isCommitId(revision) && (await exists(join(root, 'snapshots', revision)));
    if (this.offline || snapshot) return this.resolveOffline(repo, revision, repoType);
    try {
      const { commit } = await this.client.revision(repo, revision, { repoType, signal });
      // Before writeRef and before any snapshot path is built from it.
      checkCommitId(commit, this.endpoint);
      if (commit !== revision) await this.writeRef(root, revision, commit);
      return commit;
    } catch (error) {
      // As huggingface_hub: when the Hub cannot be reached, what is cached still serves.
      if (error instanceof HubNetworkError) {
        const cached = await this.resolveOffline(repo, revision, repoType).catch(() => undefined);
        if (cached) return cached;
      }
      throw error;
    }
  }

  private async resolveOffline(
    repo: string,
    revision: string,
    repoType: RepoType,
  ): Promise<string> {
    const root = this.repoDir(repo, repoType);
    checkRevision(revision, '');
    if (isCommitId(revision) && (await exists(join(root, 'snapshots', revision)))) return revision;
    const ref = await readFile(this.refPath(root, revision), 'utf8').catch(() => undefined);
    if (ref && isCommitId(ref.trim())) return ref.trim();
    throw new NotCachedError(repo, revision, undefined, repoType);
  }

  private refPath(root: string, revision: string): string {
    return this.inside(join(root, 'refs', ...checkRevision(revision, '').split('/')));
  }

  /** `refs/<revision>`, a revision with `/` as folders (`refs/refs/convert/parquet`). */
  private async writeRef(root: string, revision: string, commit: string): Promise<void> {
    const path = this.refPath(root, revision);
    if ((await readFile(path, 'utf8').catch(() => undefined)) === commit) return;
    await writing(dirname(path), () => mkdir(dirname(path), { recursive: true }));
    const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writing(temporary, () => writeFile(temporary, commit));
    await writing(path, () => rename(temporary, path));
  }

  /**
   * The files of a revision with sizes and checksums (from the Hub; from the snapshot offline,
   * where only the files cached are known).
   *
   * @throws {UnsafeHubValueError} the listing has a path or checksum that is not a Hub's.
   */
  async files(
    repo: string,
    revision: string,
    options?: AbortSignal | RepoOptions,
  ): Promise<RepoFile[]> {
    const { repoType, signal } = repoOptions(options);
    const commit = await this.resolve(repo, revision, { repoType, signal });
    if (this.offline) return this.snapshotFiles(repo, commit, repoType);
    const key = `${repoType}:${repo}@${commit}`;
    let listing = this.listings.get(key);
    if (!listing) {
      listing = this.client
        .listFiles(repo, commit, { repoType, signal })
        .then((files) => checkListing(files, this.endpoint));
      listing.catch(() => this.listings.delete(key));
      this.listings.set(key, listing);
    }
    return listing;
  }

  private async snapshotFiles(
    repo: string,
    commit: string,
    repoType: RepoType,
  ): Promise<RepoFile[]> {
    const root = this.repoDir(repo, repoType);
    const folder = join(root, 'snapshots', checkCommitId(commit, ''));
    const out: RepoFile[] = [];
    for (const path of await walk(folder)) {
      const entry = await this.snapshotEntry(root, join(folder, ...path.split('/')));
      // Only what is really cached: a link out of blobs/ is not this repo's file.
      if (entry.state !== 'file') continue;
      const name = entry.blob ?? '';
      out.push({
        path,
        size: entry.size,
        oid: name.length === 40 ? name : '',
        ...(name.length === 64 ? { lfs: { sha256: name, size: entry.size } } : {}),
      });
    }
    return out;
  }

  /**
   * A snapshot entry is a cached file when it is a link that resolves to a file directly in this
   * repo's `blobs/`, or a regular file in the snapshot (huggingface_hub copies files there where
   * symlinks are not supported). Anything else (a link elsewhere, left by a hostile earlier run
   * or made by hand) is `foreign`: never read as a model file.
   */
  private async snapshotEntry(root: string, snapshotPath: string): Promise<SnapshotEntry> {
    const info = await lstat(snapshotPath).catch(() => undefined);
    if (!info) return { state: 'missing' };
    const real = await realpath(snapshotPath).catch(() => undefined);
    // A dangling link: its blob was removed, so the file is simply not cached.
    if (real === undefined) return { state: 'missing' };
    const target = info.isSymbolicLink()
      ? await readlink(snapshotPath).catch(() => real)
      : snapshotPath;
    const blobs = await realpath(join(root, 'blobs')).catch(() => join(root, 'blobs'));
    const snapshots = await realpath(join(root, 'snapshots')).catch(() => join(root, 'snapshots'));
    const resolved = await stat(real).catch(() => undefined);
    if (!resolved?.isFile()) return { state: 'foreign', target };
    if (dirname(real) === blobs && isBlobName(basename(real)))
      return { state: 'file', size: resolved.size, blob: basename(real) };
    if (info.isFile() && isWithin(snapshots, real)) return { state: 'file', size: resolved.size };
    return { state: 'foreign', target };
  }

  /**
   * The local path of a file of a revision, downloading (and verifying) it first if needed.
   * A dataset's file with `{ repoType: 'dataset' }`, under `datasets--owner--name/`.
   *
   * @throws {NotCachedError} offline and not cached.
   * @throws {EntryNotFoundError} the revision has no such file.
   * @throws {IntegrityError} the download does not match the Hub's checksum (it was discarded).
   * @throws {UnsafeHubValueError} a repo id, revision or path that could leave the cache, or such
   *   a commit id, path or checksum from the Hub; nothing was written.
   * @throws {DiskFullError} the disk is full, or too full for this file (checked beforehand).
   * @throws {CacheNotWritableError} the cache folder cannot be written.
   */
  async file(
    repo: string,
    revision: string,
    path: string,
    options: OpenFileOptions = {},
  ): Promise<string> {
    const repoType = checkRepoType(options.repoType);
    const { signal } = options;
    // `path` may come from a server too (a shard index): checked before it is joined to anything.
    checkRepoFilePath(path, '');
    const commit = await this.resolve(repo, revision, { repoType, signal });
    const root = this.repoDir(repo, repoType);
    const snapshotPath = this.snapshotPath(root, commit, path);
    if ((await this.snapshotEntry(root, snapshotPath)).state === 'file') return snapshotPath;
    if (this.offline) throw new NotCachedError(repo, revision, path, repoType);

    const file = (await this.files(repo, commit, { repoType, signal })).find(
      (f) => f.path === path,
    );
    if (!file) throw new EntryNotFoundError(repo, revision, path, repoType);
    const { etag, hash } = checksum(file, this.endpoint);
    const blobPath = this.inside(join(root, 'blobs', etag));
    const lockPath = this.inside(
      join(this.dir, '.locks', repoFolderName(repo, repoType), `${etag}.lock`),
    );
    await writing(dirname(blobPath), () => mkdir(dirname(blobPath), { recursive: true }));
    await withLock(
      lockPath,
      async () => {
        if (await isPlainFile(blobPath)) return;
        // A link or folder where a blob belongs is not one: replaced by the download.
        await writing(blobPath, () => rm(blobPath, { force: true, recursive: true }));
        await this.download(repo, commit, file, blobPath, hash, { ...options, repoType });
      },
      {
        ...this.lockTimings,
        signal: options.signal,
        onLongWait: (holder) => tellWaiting(holder, path),
      },
    );
    await this.link(root, commit, snapshotPath, blobPath);
    options.onProgress?.({ path, loaded: file.size, total: file.size });
    return snapshotPath;
  }

  /** Points `snapshotPath` at its blob with a relative link, as huggingface_hub does. */
  private async link(
    root: string,
    commit: string,
    snapshotPath: string,
    blobPath: string,
  ): Promise<void> {
    const folder = dirname(snapshotPath);
    await writing(folder, () => mkdir(folder, { recursive: true }));
    // A folder of the snapshot that is a link (made by hand, or by a hostile earlier run) would
    // carry the new link out of the cache.
    const snapshots = await realpath(join(root, 'snapshots'));
    if (!isWithin(snapshots, await realpath(folder)))
      throw new UnsafeHubValueError(`snapshot folder of ${commit} (a link)`, folder, '');
    const target = relative(folder, blobPath);
    for (let attempt = 0; ; attempt++) {
      try {
        await symlink(target, snapshotPath);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0)
          throw await cacheWriteError(error, snapshotPath);
      }
      // Another process linked it first, or something else stands there: keep only a good link.
      if ((await this.snapshotEntry(root, snapshotPath)).state === 'file') return;
      await writing(snapshotPath, () => rm(snapshotPath, { force: true, recursive: true }));
    }
  }

  private async download(
    repo: string,
    commit: string,
    file: RepoFile,
    blobPath: string,
    hash: () => Hash,
    options: OpenFileOptions & { repoType: RepoType },
  ): Promise<void> {
    const incomplete = `${blobPath}.incomplete`;
    let length = await this.resumable(incomplete, file.size);
    // Resume what an interrupted process left: its bytes are hashed again before continuing.
    let digest = hash();
    if (length > 0) {
      for await (const chunk of createReadStream(incomplete, { start: 0, end: length - 1 }))
        digest.update(chunk as Buffer);
    }
    const needed = file.size - length;
    const free = await freeBytes(dirname(blobPath));
    if (free !== undefined && needed > free) throw new DiskFullError(incomplete, free, needed);

    const handle = await writing(incomplete, () => open(incomplete, 'a'));
    // A disk error is typed here; the client rethrows a target's error at once, without retrying
    // it as if the network had failed, and the partial file stays to be resumed.
    const failed = (error: unknown) =>
      cacheWriteError(error, incomplete, { needed: file.size - length });
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
            try {
              await handle.write(chunk);
            } catch (error) {
              throw await failed(error);
            }
            digest.update(chunk);
            length += chunk.length;
          },
          async reset() {
            try {
              await handle.truncate(0);
            } catch (error) {
              throw await failed(error);
            }
            digest = hash();
            length = 0;
          },
        },
        {
          size: file.size,
          onProgress: options.onProgress,
          signal: options.signal,
          repoType: options.repoType,
        },
      );
    } finally {
      await handle.close();
    }
    const actual = digest.digest('hex');
    const etag = blobName(file, this.endpoint);
    if (actual !== etag) {
      await rm(incomplete, { force: true });
      throw new IntegrityError(file.path, etag, actual);
    }
    if (!(await isPlainFile(incomplete))) {
      // The bytes went through a link to a device, not into the cache: download into a file.
      await writing(incomplete, () => rm(incomplete, { force: true }));
      return this.download(repo, commit, file, blobPath, hash, options);
    }
    await writing(blobPath, () => rename(incomplete, blobPath));
  }

  /**
   * How many bytes of a partial download can be resumed. Only a regular file in the cache is
   * resumed; a link that leads to a file elsewhere is removed, so a download never appends to a
   * file outside the cache. A link to a device is written through (it holds no file: a test
   * fills a disk with `/dev/full` this way) but never read back.
   */
  private async resumable(incomplete: string, size: number): Promise<number> {
    const info = await lstat(incomplete).catch(() => undefined);
    if (!info) return 0;
    if (!info.isFile()) {
      const target = await stat(incomplete).catch(() => undefined);
      if (target?.isCharacterDevice()) return 0;
      await writing(incomplete, () => rm(incomplete, { force: true, recursive: true }));
      return 0;
    }
    if (info.size > size) {
      await writing(incomplete, () => truncate(incomplete, 0));
      return 0;
    }
    return info.size;
  }

  /** A file of a revision as a {@link ByteSource} (downloaded and verified first if needed). */
  async open(
    repo: string,
    revision: string,
    path: string,
    options: OpenFileOptions = {},
  ): Promise<ByteSource & { close(): Promise<void> }> {
    return fileSource(await this.file(repo, revision, path, options));
  }

  /**
   * Every cached repository with its revisions, files and sizes: the models (`models--…`), or
   * with `{ repoType: 'dataset' }` the datasets (`datasets--…`).
   */
  async list(options: { repoType?: RepoType } = {}): Promise<CachedRepo[]> {
    const repoType = checkRepoType(options.repoType);
    const prefix = `${repoTypePlural(repoType)}--`;
    const repos: CachedRepo[] = [];
    for (const folder of (await readdir(this.dir).catch(() => [] as string[])).sort()) {
      if (!folder.startsWith(prefix)) continue;
      const repo = folder.slice(prefix.length).replace('--', '/');
      // A folder no repo id names cannot be asked for, nor removed through this API.
      if (!isRepoId(repo)) continue;
      const root = join(this.dir, folder);
      const refs = await readRefs(root);
      const revisions: CachedRevision[] = [];
      for (const commit of (
        await readdir(join(root, 'snapshots')).catch(() => [] as string[])
      ).sort()) {
        if (!isCommitId(commit)) continue;
        const files: Array<{ path: string; size: number }> = [];
        for (const path of await walk(join(root, 'snapshots', commit))) {
          const entry = await this.snapshotEntry(
            root,
            join(root, 'snapshots', commit, ...path.split('/')),
          );
          files.push({ path, size: entry.state === 'file' ? entry.size : 0 });
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
      repos.push({ repo, revisions, size: await dirSize(join(root, 'blobs')) });
    }
    return repos;
  }

  /**
   * Deletes a revision (its snapshot, the refs pointing to it, and blobs no other revision uses),
   * or the whole repository when no revision is given. Returns the bytes freed. A dataset's with
   * `{ repoType: 'dataset' }`.
   */
  async remove(
    repo: string,
    revision?: string,
    options: { repoType?: RepoType } = {},
  ): Promise<number> {
    const repoType = checkRepoType(options.repoType);
    const root = this.repoDir(repo, repoType);
    const before = await dirSize(join(root, 'blobs'));
    if (revision === undefined) {
      await writing(root, () => rm(root, { recursive: true, force: true }));
      return before;
    }
    const commit = await this.resolveOffline(repo, revision, repoType);
    const snapshot = join(root, 'snapshots', commit);
    await writing(snapshot, () => rm(snapshot, { recursive: true, force: true }));
    for (const [name, target] of await readRefs(root)) {
      const ref = join(root, 'refs', ...name.split('/'));
      if (target === commit) await writing(ref, () => rm(ref, { force: true }));
    }
    const used = new Set<string>();
    for (const other of await readdir(join(root, 'snapshots')).catch(() => [] as string[])) {
      for (const path of await walk(join(root, 'snapshots', other))) {
        const link = await readlink(join(root, 'snapshots', other, path)).catch(() => '');
        used.add(link.split(/[\\/]/).pop() ?? '');
      }
    }
    for (const blob of await readdir(join(root, 'blobs')).catch(() => [] as string[])) {
      const path = join(root, 'blobs', blob);
      if (!used.has(blob)) await writing(path, () => rm(path, { force: true, recursive: true }));
    }
    return before - (await dirSize(join(root, 'blobs')));
  }

  /**
   * Re-hashes every blob (of one repository, or all); returns the damaged or incomplete ones,
   * blobs that are not files, and snapshot links that lead out of the repo's `blobs/`. The
   * models', or with `{ repoType: 'dataset' }` the datasets'.
   */
  async verify(
    repo?: string,
    options: { repoType?: RepoType } = {},
  ): Promise<Array<{ repo: string; blob: string; problem: string }>> {
    const repoType = checkRepoType(options.repoType);
    const problems: Array<{ repo: string; blob: string; problem: string }> = [];
    for (const cached of await this.list({ repoType })) {
      if (repo !== undefined && cached.repo !== repo) continue;
      const root = this.repoDir(cached.repo, repoType);
      const blobs = join(root, 'blobs');
      for (const blob of await readdir(blobs).catch(() => [] as string[])) {
        if (blob.endsWith('.incomplete')) {
          problems.push({
            repo: cached.repo,
            blob,
            problem: 'an interrupted download (resumed on next use)',
          });
          continue;
        }
        const info = await lstat(join(blobs, blob));
        if (!info.isFile() || !isBlobName(blob)) {
          problems.push({
            repo: cached.repo,
            blob,
            problem: info.isFile() ? 'not named by a checksum' : 'not a file (a link or folder)',
          });
          continue;
        }
        const digest =
          blob.length === 64
            ? createHash('sha256')
            : createHash('sha1').update(`blob ${info.size}\0`);
        for await (const chunk of createReadStream(join(blobs, blob)))
          digest.update(chunk as Buffer);
        const actual = digest.digest('hex');
        if (actual !== blob)
          problems.push({ repo: cached.repo, blob, problem: `content hashes to ${actual}` });
      }
      for (const revision of cached.revisions) {
        for (const { path } of revision.files) {
          const at = join(root, 'snapshots', revision.commit, ...path.split('/'));
          const entry = await this.snapshotEntry(root, at);
          if (entry.state !== 'foreign') continue;
          problems.push({
            repo: cached.repo,
            blob: `snapshots/${revision.commit}/${path}`,
            problem: `links to ${entry.target}, outside this repo's blobs/; it is never read, remove the revision and download it again`,
          });
        }
      }
    }
    return problems;
  }
}

/** Says once, on a terminal only, why a download is not starting. */
function tellWaiting(holder: LockHolder | undefined, path: string): void {
  if (!process.stderr.isTTY) return;
  const who = holder
    ? `pid ${holder.pid}${holder.host && holder.host !== hostname() ? ` on ${holder.host}` : ''}`
    : 'unknown pid';
  process.stderr.write(
    `waiting for another process (${who}) downloading ${path} into the cache…\n`,
  );
}

function isWithin(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A regular file itself, not a link to one. */
async function isPlainFile(path: string): Promise<boolean> {
  return lstat(path).then(
    (info) => info.isFile(),
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
    const commit = await readFile(join(root, 'refs', name), 'utf8').catch(() => '');
    refs.set(name.split(sep).join('/'), commit.trim());
  }
  return refs;
}

/** Bytes of the entries of a folder, links counted as links (never followed). */
async function dirSize(dir: string): Promise<number> {
  let size = 0;
  for (const name of await readdir(dir).catch(() => [] as string[]))
    size += await lstat(join(dir, name)).then(
      (info) => info.size,
      () => 0,
    );
  return size;
}
