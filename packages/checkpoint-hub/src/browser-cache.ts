import { type BlobStorage, defaultBlobStorage, isQuotaError, opfsStorage } from './blob-storage.js';
import { type ByteSource, blobSource } from './byte-source.js';
import {
  checkCommitId,
  checkListing,
  checkRepoId,
  checkRevision,
  isCommitId,
} from './cache-paths.js';
import {
  CheckpointHubError,
  EntryNotFoundError,
  HubNetworkError,
  IntegrityError,
  NotCachedError,
} from './errors.js';
import { fileChecksum } from './hash.js';
import { type FileProgress, HubClient, type RepoFile } from './hub-client.js';
import type { CheckpointStore, OpenFileOptions } from './remote-store.js';
import { checkRepoType, type RepoOptions, type RepoType, repoOptions } from './repo-type.js';

/** Options of {@link BrowserHubCache}. */
export interface BrowserHubCacheOptions {
  client?: HubClient;
  /** Default: the Cache API, else OPFS, else memory. */
  storage?: BlobStorage;
  /** Never touch the network: serve only what is cached. */
  offline?: boolean;
}

/** A cached revision of a repository. */
export interface BrowserCachedRevision {
  repo: string;
  commit: string;
  refs: string[];
  /** Bytes of its files (blobs shared with other revisions are counted in each). */
  size: number;
  /** Whether every file of the revision is cached. */
  complete: boolean;
}

// Keys are built from checked values only (cache-paths.ts): a revision `../../blobs/<sha>` must
// not name a blob's key, nor a listing's path or checksum anything but what the Hub sends.
// A model's keys are `refs/owner/name/<revision>` and `trees/owner/name/<commit>`, as they always
// were. A dataset's are `dataset-refs/owner--name/<revision>` and `dataset-trees/owner--name/<commit>`:
// its repo id is one part (a repo id holds no `--`), so that a revision with `/`
// (`refs/convert/parquet`) is told from the repo's name however many parts each has. Blobs are
// keyed by checksum alone and shared by both kinds.
const KEY_PREFIX: Record<RepoType, { refs: string; trees: string }> = {
  model: { refs: 'refs/', trees: 'trees/' },
  dataset: { refs: 'dataset-refs/', trees: 'dataset-trees/' },
};
const repoKey = (repo: string, repoType: RepoType) =>
  repoType === 'dataset' ? repo.split('/').join('--') : repo;
const refKey = (repo: string, revision: string, repoType: RepoType) =>
  `${KEY_PREFIX[repoType].refs}${repoKey(repo, repoType)}/${revision}`;
const treeKey = (repo: string, commit: string, repoType: RepoType) =>
  `${KEY_PREFIX[repoType].trees}${repoKey(repo, repoType)}/${commit}`;
const blobKey = (etag: string) => `blobs/${etag}`;
/** The repo id and the rest (revision or commit) of a ref or tree key of `repoType`. */
function splitKey(key: string, repoType: RepoType): { repo: string; rest: string } {
  // Every prefix is one part: `refs`, `trees`, `dataset-refs`, `dataset-trees`.
  const [, ...parts] = key.split('/');
  if (repoType === 'dataset') {
    const [folder = '', ...rest] = parts;
    return { repo: folder.split('--').join('/'), rest: rest.join('/') };
  }
  const [owner, name, ...rest] = parts;
  return { repo: `${owner}/${name}`, rest: rest.join('/') };
}

/**
 * The browser's cache of Hub files: blobs keyed by their sha256 (git sha1 for small files), so a
 * file identical across checkpoints is stored once, plus the revision → commit refs and file
 * listings, so a second visit loads without the network. Every download is verified before it
 * is stored. Dataset repositories are served alike, with `{ repoType: 'dataset' }`.
 *
 * @example
 * ```ts
 * const cache = await BrowserHubCache.create();
 * const checkpoint = await openCheckpoint('EleutherAI/pythia-70m-deduped', 'step3000', cache);
 * ```
 */
type Checksum = ReturnType<ReturnType<typeof fileChecksum>['create']>;
type DownloadOptions = {
  onProgress?: (progress: FileProgress) => void;
  signal?: AbortSignal;
  repoType: RepoType;
};
/** What one file's download is of. */
interface DownloadRequest {
  repo: string;
  commit: string;
  file: RepoFile;
  etag: string;
  options: DownloadOptions;
}

export class BrowserHubCache implements CheckpointStore {
  private constructor(
    private storage: BlobStorage,
    readonly client: HubClient,
    readonly offline: boolean,
  ) {}

  static async create(options: BrowserHubCacheOptions = {}): Promise<BrowserHubCache> {
    return new BrowserHubCache(
      options.storage ?? (await defaultBlobStorage()),
      options.client ?? new HubClient(),
      options.offline ?? false,
    );
  }

  /** Which storage holds the cache now (it moves to OPFS when the Cache API is full). */
  get storageKind(): BlobStorage['kind'] {
    return this.storage.kind;
  }

  private async text(key: string): Promise<string | undefined> {
    return (await this.storage.get(key))?.text();
  }

  /**
   * The commit a revision points to: from the Hub, or from the cached ref offline. The last
   * argument is a signal, or {@link RepoOptions} (`{ repoType: 'dataset' }`).
   *
   * @throws {UnsafeHubValueError} a repo id or revision that is not one, or a commit id from the
   *   Hub that is not 40 hex digits; nothing was stored.
   */
  async resolve(
    repo: string,
    revision: string,
    options?: AbortSignal | RepoOptions,
  ): Promise<string> {
    const { repoType, signal } = repoOptions(options);
    checkRepoId(repo, '');
    checkRevision(revision, '');
    const tree = treeKey(repo, revision, repoType);
    // A commit never changes: with its listing cached there is nothing to ask the Hub.
    if (isCommitId(revision) && (await this.storage.get(tree))) return revision;
    const ref = refKey(repo, revision, repoType);
    if (!this.offline) {
      try {
        const { commit } = await this.client.revision(repo, revision, { repoType, signal });
        checkCommitId(commit, this.client.endpoint);
        if (commit !== revision) await this.storage.put(ref, new Blob([commit]));
        return commit;
      } catch (error) {
        if (!(error instanceof HubNetworkError)) throw error;
      }
    }
    if (isCommitId(revision) && (await this.storage.get(tree))) return revision;
    const commit = (await this.text(ref))?.trim();
    if (!commit || !isCommitId(commit))
      throw new NotCachedError(repo, revision, undefined, repoType);
    return commit;
  }

  /**
   * The files of a revision with sizes and checksums (cached after the first listing).
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
    const key = treeKey(repo, commit, repoType);
    const cached = await this.text(key);
    if (cached) return checkListing(JSON.parse(cached) as RepoFile[], '');
    if (this.offline) throw new NotCachedError(repo, revision, undefined, repoType);
    const files = checkListing(
      await this.client.listFiles(repo, commit, { repoType, signal }),
      this.client.endpoint,
    );
    await this.storage.put(key, new Blob([JSON.stringify(files)]));
    return files;
  }

  async open(
    repo: string,
    revision: string,
    path: string,
    options: OpenFileOptions = {},
  ): Promise<ByteSource> {
    const { repoType, signal } = repoOptions(options);
    const commit = await this.resolve(repo, revision, { repoType, signal });
    const file = (await this.files(repo, commit, { repoType, signal })).find(
      (f) => f.path === path,
    );
    if (!file) throw new EntryNotFoundError(repo, revision, path, repoType);
    const { etag, create } = fileChecksum(file, this.client.endpoint);
    let blob = await this.storage.get(blobKey(etag));
    if (!blob) {
      if (this.offline) throw new NotCachedError(repo, revision, path, repoType);
      blob = await this.download(repo, commit, file, etag, create(), { ...options, repoType });
    }
    options.onProgress?.({ path, loaded: file.size, total: file.size });
    return blobSource(blob);
  }

  /**
   * Downloads `file` into the storage, checking its checksum: streamed into the entry as it
   * arrives where the storage can (the Cache API, OPFS: a chunk in memory, whatever the file's
   * size), else held and stored whole. A file that fails its checksum is not stored. When the
   * Cache API is full, the storage moves to OPFS and the file is fetched again into it.
   */
  private async download(
    repo: string,
    commit: string,
    file: RepoFile,
    etag: string,
    hash: Checksum,
    options: DownloadOptions,
  ): Promise<Blob> {
    const request = { repo, commit, file, etag, options };
    try {
      return await this.downloadInto(this.storage, request, hash);
    } catch (error) {
      if (!isQuotaError(error) || this.storage.kind !== 'cache-api') throw error;
      // The Cache API is full: move to the file system, which browsers usually let grow further.
      this.storage = await opfsStorage();
      return this.downloadInto(this.storage, request, fileChecksum(file).create());
    }
  }

  private async downloadInto(
    storage: BlobStorage,
    { repo, commit, file, etag, options }: DownloadRequest,
    hash: Checksum,
  ): Promise<Blob> {
    const key = blobKey(etag);
    const stream = await storage.stream?.(key);
    let parts: Uint8Array[] = [];
    let length = 0;
    let digest = hash;
    const fresh = fileChecksum(file).create;
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
            digest.update(chunk);
            length += chunk.length;
            if (stream) await stream.write(chunk);
            else parts.push(chunk);
          },
          async reset() {
            parts = [];
            length = 0;
            digest = fresh();
            await stream?.reset();
          },
        },
        {
          size: file.size,
          onProgress: options.onProgress,
          signal: options.signal,
          repoType: options.repoType,
        },
      );
      const actual = digest.hex();
      if (actual !== etag) throw new IntegrityError(file.path, etag, actual);
      if (!stream) {
        const blob = new Blob(parts as BlobPart[]);
        await storage.put(key, blob);
        return blob;
      }
      await stream.close();
    } catch (error) {
      await stream?.abort().catch(() => undefined);
      throw error;
    }
    // The stored entry: on disk, read a range at a time.
    const stored = await storage.get(key);
    if (!stored)
      throw new CheckpointHubError(
        `the browser's storage (${storage.kind}) did not keep ${file.path} after writing it; free some site storage and load again`,
      );
    return stored;
  }

  /** The cached revisions with their sizes: the models', or the datasets' with `{ repoType: 'dataset' }`. */
  async list(options: { repoType?: RepoType } = {}): Promise<BrowserCachedRevision[]> {
    const repoType = checkRepoType(options.repoType);
    const prefix = KEY_PREFIX[repoType];
    const keys = await this.storage.keys();
    const blobSizes = new Map<string, number>();
    for (const key of keys.filter((k) => k.startsWith('blobs/'))) {
      blobSizes.set(key.slice(6), (await this.storage.get(key))?.size ?? 0);
    }
    const refs = new Map<string, string[]>();
    for (const key of keys.filter((k) => k.startsWith(prefix.refs))) {
      const { repo, rest } = splitKey(key, repoType);
      const commit = await this.text(key);
      const id = `${repo}@${commit}`;
      refs.set(id, [...(refs.get(id) ?? []), rest]);
    }
    const out: BrowserCachedRevision[] = [];
    for (const key of keys.filter((k) => k.startsWith(prefix.trees))) {
      const { repo, rest: commit } = splitKey(key, repoType);
      const files = JSON.parse((await this.text(key)) ?? '[]') as RepoFile[];
      const present = files.filter((f) => blobSizes.has(etagOf(f) ?? ''));
      out.push({
        repo,
        commit,
        refs: (refs.get(`${repo}@${commit}`) ?? []).sort(),
        size: present.reduce((n, f) => n + f.size, 0),
        complete: present.length === files.length,
      });
    }
    return out.sort((a, b) => a.repo.localeCompare(b.repo) || a.commit.localeCompare(b.commit));
  }

  /**
   * Deletes a revision (or every revision of a repo) and the blobs nothing else uses (a blob a
   * dataset and a model share stays). A dataset's with `{ repoType: 'dataset' }`.
   */
  async remove(
    repo: string,
    revision?: string,
    options: { repoType?: RepoType } = {},
  ): Promise<void> {
    const repoType = checkRepoType(options.repoType);
    checkRepoId(repo, '');
    if (revision !== undefined) checkRevision(revision, '');
    const keys = await this.storage.keys();
    const trees = `${KEY_PREFIX[repoType].trees}${repoKey(repo, repoType)}/`;
    const refs = `${KEY_PREFIX[repoType].refs}${repoKey(repo, repoType)}/`;
    const commits =
      revision === undefined
        ? keys.filter((k) => k.startsWith(trees)).map((k) => k.slice(trees.length))
        : [await this.resolve(repo, revision, { repoType }).catch(() => revision)];
    for (const commit of commits) {
      await this.storage.delete(treeKey(repo, commit, repoType));
      for (const key of keys.filter((k) => k.startsWith(refs))) {
        if ((await this.text(key)) === commit) await this.storage.delete(key);
      }
    }
    const used = new Set<string>();
    const listings = (k: string) =>
      k.startsWith(KEY_PREFIX.model.trees) || k.startsWith(KEY_PREFIX.dataset.trees);
    for (const key of (await this.storage.keys()).filter(listings)) {
      for (const f of JSON.parse((await this.text(key)) ?? '[]') as RepoFile[])
        used.add(etagOf(f) ?? '');
    }
    for (const key of keys.filter((k) => k.startsWith('blobs/'))) {
      if (!used.has(key.slice(6))) await this.storage.delete(key);
    }
  }

  /** The origin's storage use and quota, as the browser reports them. */
  async estimate(): Promise<{ usage: number; quota: number } | undefined> {
    const estimate = await globalThis.navigator?.storage?.estimate?.();
    return estimate ? { usage: estimate.usage ?? 0, quota: estimate.quota ?? 0 } : undefined;
  }
}

/** A listed file's blob name, or undefined for an entry no checked listing can hold. */
function etagOf(file: RepoFile): string | undefined {
  try {
    return fileChecksum(file).etag;
  } catch {
    return undefined;
  }
}
