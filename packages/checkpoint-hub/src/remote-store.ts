import type { ByteSource } from './byte-source.js';
import { checkRange, deliver } from './byte-source.js';
import { EntryNotFoundError } from './errors.js';
import type { FileProgress, HubClient, RepoFile } from './hub-client.js';
import { type RepoOptions, type RepoType, repoOptions } from './repo-type.js';

/** Options of {@link CheckpointStore.open}: progress, a signal, and the kind of repository. */
export interface OpenFileOptions {
  onProgress?: (progress: FileProgress) => void;
  signal?: AbortSignal;
  /** Default `'model'`. */
  repoType?: RepoType;
}

/**
 * Where a checkpoint's files come from: a cache that downloads whole files ({@link NodeHubCache}
 * in Node, the browser cache), or {@link RemoteStore}, which reads just the needed byte ranges.
 *
 * Each method serves dataset repositories too: give `{ repoType: 'dataset' }` where a signal
 * goes (`resolve`, `files`) or among `open`'s options. A store that holds models only (a local
 * folder) may refuse them.
 */
export interface CheckpointStore {
  /**
   * True when the store serves only what it holds (a cache in offline mode, `HF_HUB_OFFLINE=1`):
   * a file missing from its listing may then exist on the Hub, so a checkpoint that lacks one is
   * reported as only partly cached rather than as a revision without that file.
   */
  readonly offline?: boolean;
  /** The commit a branch, tag or commit id points to. */
  resolve(repo: string, revision: string, options?: AbortSignal | RepoOptions): Promise<string>;
  /** The files of a revision with sizes and checksums. */
  files(repo: string, revision: string, options?: AbortSignal | RepoOptions): Promise<RepoFile[]>;
  /** A file of a revision as random-access bytes. */
  open(
    repo: string,
    revision: string,
    path: string,
    options?: OpenFileOptions,
  ): Promise<ByteSource & { close?(): Promise<void> }>;
}

/**
 * A store that caches nothing and reads each range straight from the Hub (HTTP Range requests):
 * loading a checkpoint then transfers the headers and the tensors the model uses, and not the
 * legacy buffers that older `.bin` checkpoints carry.
 */
export class RemoteStore implements CheckpointStore {
  /** Bytes fetched so far, for progress reports and tests. */
  bytesRead = 0;

  constructor(private readonly client: HubClient) {}

  async resolve(
    repo: string,
    revision: string,
    options?: AbortSignal | RepoOptions,
  ): Promise<string> {
    return (await this.client.revision(repo, revision, repoOptions(options))).commit;
  }

  files(repo: string, revision: string, options?: AbortSignal | RepoOptions): Promise<RepoFile[]> {
    return this.client.listFiles(repo, revision, repoOptions(options));
  }

  async open(
    repo: string,
    revision: string,
    path: string,
    options: OpenFileOptions = {},
  ): Promise<ByteSource> {
    const { repoType, signal } = repoOptions(options);
    const file = (await this.files(repo, revision, { repoType, signal })).find(
      (f) => f.path === path,
    );
    if (!file) throw new EntryNotFoundError(repo, revision, path, repoType);
    let loaded = 0;
    return {
      size: file.size,
      read: async (offset, length, into) => {
        checkRange(offset, length, file.size);
        const bytes = await this.client.readRange(repo, revision, path, offset, length, {
          repoType,
          signal,
        });
        loaded += length;
        this.bytesRead += length;
        options.onProgress?.({ path, loaded, total: file.size });
        return deliver(bytes, into);
      },
    };
  }
}
