import { type BlobStorage, defaultBlobStorage, isQuotaError, opfsStorage } from './blob-storage.js';
import { type ByteSource, blobSource } from './byte-source.js';
import {
  checkCommitId,
  checkListing,
  checkRepoId,
  checkRevision,
  isCommitId,
} from './cache-paths.js';
import { EntryNotFoundError, HubNetworkError, IntegrityError, NotCachedError } from './errors.js';
import { fileChecksum } from './hash.js';
import { type FileProgress, HubClient, type RepoFile } from './hub-client.js';
import type { CheckpointStore } from './remote-store.js';

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
const refKey = (repo: string, revision: string) => `refs/${repo}/${revision}`;
const treeKey = (repo: string, commit: string) => `trees/${repo}/${commit}`;
const blobKey = (etag: string) => `blobs/${etag}`;

/**
 * The browser's cache of Hub files: blobs keyed by their sha256 (git sha1 for small files), so a
 * file identical across checkpoints is stored once, plus the revision → commit refs and file
 * listings, so a second visit loads without the network. Every download is verified before it
 * is stored.
 *
 * @example
 * ```ts
 * const cache = await BrowserHubCache.create();
 * const checkpoint = await openCheckpoint('EleutherAI/pythia-70m-deduped', 'step3000', cache);
 * ```
 */
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
   * The commit a revision points to: from the Hub, or from the cached ref offline.
   *
   * @throws {UnsafeHubValueError} a repo id or revision that is not one, or a commit id from the
   *   Hub that is not 40 hex digits; nothing was stored.
   */
  async resolve(repo: string, revision: string, signal?: AbortSignal): Promise<string> {
    checkRepoId(repo, '');
    checkRevision(revision, '');
    // A commit never changes: with its listing cached there is nothing to ask the Hub.
    if (isCommitId(revision) && (await this.storage.get(treeKey(repo, revision)))) return revision;
    if (!this.offline) {
      try {
        const { commit } = await this.client.revision(repo, revision, signal);
        checkCommitId(commit, this.client.endpoint);
        if (commit !== revision) await this.storage.put(refKey(repo, revision), new Blob([commit]));
        return commit;
      } catch (error) {
        if (!(error instanceof HubNetworkError)) throw error;
      }
    }
    if (isCommitId(revision) && (await this.storage.get(treeKey(repo, revision)))) return revision;
    const commit = (await this.text(refKey(repo, revision)))?.trim();
    if (!commit || !isCommitId(commit)) throw new NotCachedError(repo, revision);
    return commit;
  }

  /**
   * The files of a revision with sizes and checksums (cached after the first listing).
   *
   * @throws {UnsafeHubValueError} the listing has a path or checksum that is not a Hub's.
   */
  async files(repo: string, revision: string, signal?: AbortSignal): Promise<RepoFile[]> {
    const commit = await this.resolve(repo, revision, signal);
    const cached = await this.text(treeKey(repo, commit));
    if (cached) return checkListing(JSON.parse(cached) as RepoFile[], '');
    if (this.offline) throw new NotCachedError(repo, revision);
    const files = checkListing(
      await this.client.listFiles(repo, commit, signal),
      this.client.endpoint,
    );
    await this.storage.put(treeKey(repo, commit), new Blob([JSON.stringify(files)]));
    return files;
  }

  async open(
    repo: string,
    revision: string,
    path: string,
    options: { onProgress?: (progress: FileProgress) => void; signal?: AbortSignal } = {},
  ): Promise<ByteSource> {
    const commit = await this.resolve(repo, revision, options.signal);
    const file = (await this.files(repo, commit, options.signal)).find((f) => f.path === path);
    if (!file) throw new EntryNotFoundError(repo, revision, path);
    const { etag, create } = fileChecksum(file, this.client.endpoint);
    let blob = await this.storage.get(blobKey(etag));
    if (!blob) {
      if (this.offline) throw new NotCachedError(repo, revision, path);
      blob = await this.download(repo, commit, file, etag, create(), options);
    }
    options.onProgress?.({ path, loaded: file.size, total: file.size });
    return blobSource(blob);
  }

  private async download(
    repo: string,
    commit: string,
    file: RepoFile,
    etag: string,
    hash: ReturnType<ReturnType<typeof fileChecksum>['create']>,
    options: { onProgress?: (progress: FileProgress) => void; signal?: AbortSignal },
  ): Promise<Blob> {
    let parts: Uint8Array[] = [];
    let length = 0;
    let digest = hash;
    const fresh = fileChecksum(file).create;
    await this.client.download(
      repo,
      commit,
      file.path,
      {
        get length() {
          return length;
        },
        append(chunk) {
          parts.push(chunk);
          digest.update(chunk);
          length += chunk.length;
        },
        reset() {
          parts = [];
          length = 0;
          digest = fresh();
        },
      },
      { size: file.size, onProgress: options.onProgress, signal: options.signal },
    );
    const actual = digest.hex();
    if (actual !== etag) throw new IntegrityError(file.path, etag, actual);
    const blob = new Blob(parts as BlobPart[]);
    try {
      await this.storage.put(blobKey(etag), blob);
    } catch (error) {
      if (!isQuotaError(error) || this.storage.kind !== 'cache-api') throw error;
      // The Cache API is full: move to the file system, which browsers usually let grow further.
      this.storage = await opfsStorage();
      await this.storage.put(blobKey(etag), blob);
    }
    return blob;
  }

  /** The cached revisions with their sizes. */
  async list(): Promise<BrowserCachedRevision[]> {
    const keys = await this.storage.keys();
    const blobSizes = new Map<string, number>();
    for (const key of keys.filter((k) => k.startsWith('blobs/'))) {
      blobSizes.set(key.slice(6), (await this.storage.get(key))?.size ?? 0);
    }
    const refs = new Map<string, string[]>();
    for (const key of keys.filter((k) => k.startsWith('refs/'))) {
      const [, owner, name, ...rest] = key.split('/');
      const commit = await this.text(key);
      const id = `${owner}/${name}@${commit}`;
      refs.set(id, [...(refs.get(id) ?? []), rest.join('/')]);
    }
    const out: BrowserCachedRevision[] = [];
    for (const key of keys.filter((k) => k.startsWith('trees/'))) {
      const [, owner, name, commit] = key.split('/') as [string, string, string, string];
      const files = JSON.parse((await this.text(key)) ?? '[]') as RepoFile[];
      const present = files.filter((f) => blobSizes.has(etagOf(f) ?? ''));
      out.push({
        repo: `${owner}/${name}`,
        commit,
        refs: (refs.get(`${owner}/${name}@${commit}`) ?? []).sort(),
        size: present.reduce((n, f) => n + f.size, 0),
        complete: present.length === files.length,
      });
    }
    return out.sort((a, b) => a.repo.localeCompare(b.repo) || a.commit.localeCompare(b.commit));
  }

  /** Deletes a revision (or every revision of a repo) and the blobs nothing else uses. */
  async remove(repo: string, revision?: string): Promise<void> {
    checkRepoId(repo, '');
    if (revision !== undefined) checkRevision(revision, '');
    const keys = await this.storage.keys();
    const commits =
      revision === undefined
        ? keys.filter((k) => k.startsWith(`trees/${repo}/`)).map((k) => k.split('/')[3]!)
        : [await this.resolve(repo, revision).catch(() => revision)];
    for (const commit of commits) {
      await this.storage.delete(treeKey(repo, commit));
      for (const key of keys.filter((k) => k.startsWith(`refs/${repo}/`))) {
        if ((await this.text(key)) === commit) await this.storage.delete(key);
      }
    }
    const used = new Set<string>();
    for (const key of (await this.storage.keys()).filter((k) => k.startsWith('trees/'))) {
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
