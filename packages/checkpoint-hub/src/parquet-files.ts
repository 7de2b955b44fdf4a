import { EntryNotFoundError, NotCachedError } from './errors.js';
import type { RepoFile } from './hub-client.js';
import type { CheckpointStore } from './remote-store.js';
import { PARQUET_REVISION } from './repo-type.js';

/** The Parquet files of one split of a dataset config, in the order their rows go. */
export interface ParquetSplit {
  dataset: string;
  config: string;
  split: string;
  /** The revision asked for: `refs/convert/parquet`, or a commit of it. */
  revision: string;
  /** The commit it resolved to: open the files at this one, so that they match the listing. */
  commit: string;
  /** Shards in row order (`0000.parquet`, `0001.parquet` …), with sizes and checksums. */
  files: RepoFile[];
  /**
   * The Hub converted only the first part of a large split (`{config}/partial-{split}/`): the
   * rows are a prefix of the split, not all of it.
   */
  partial: boolean;
}

/** Options of {@link listParquetFiles}. */
export interface ListParquetFilesOptions {
  /** Default `refs/convert/parquet`; a commit id of that branch pins the conversion. */
  revision?: string;
  signal?: AbortSignal;
}

/** A split with no Parquet files in the conversion: names the config/split pairs it does have. */
export class ParquetSplitNotFoundError extends EntryNotFoundError {
  override name = 'ParquetSplitNotFoundError';
  constructor(
    dataset: string,
    revision: string,
    readonly config: string,
    readonly split: string,
    /** `config/split` pairs the conversion has. */
    readonly available: readonly string[],
  ) {
    super(dataset, revision, `${config}/${split}`, 'dataset');
    const shown = available.slice(0, 10).join(', ') + (available.length > 10 ? ', …' : '');
    this.message =
      `dataset ${dataset}@${revision} has no Parquet files for config ${config}, split ${split}` +
      (available.length ? ` (it has ${shown})` : ' (it has no Parquet files at all)');
  }
}

const PARQUET = /\.parquet$/;
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Picks the files of one split from a listing of a dataset's Parquet branch, in either of the
 * layouts the Hub has used:
 *
 * - `{config}/{split}/0000.parquet`, `0001.parquet` … (today's);
 * - `{config}/partial-{split}/…` where only the first part of a large split was converted;
 * - `{config}/{name}-{split}.parquet` or `{config}/{name}-{split}-00000-of-00002.parquet` (the
 *   first conversions; `name` is the dataset's name without its owner).
 *
 * Returns `undefined` when the listing has none.
 */
export function pickParquetFiles(
  files: readonly RepoFile[],
  dataset: string,
  config: string,
  split: string,
): { files: RepoFile[]; partial: boolean } | undefined {
  const byPath = (a: RepoFile, b: RepoFile) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  const inFolder = (folder: string) =>
    files
      .filter((f) => PARQUET.test(f.path) && f.path.startsWith(`${folder}/`))
      .filter((f) => !f.path.slice(folder.length + 1).includes('/'))
      .sort(byPath);
  const whole = inFolder(`${config}/${split}`);
  if (whole.length) return { files: whole, partial: false };
  const partial = inFolder(`${config}/partial-${split}`);
  if (partial.length) return { files: partial, partial: true };
  const name = dataset.split('/').at(-1) ?? dataset;
  const old = new RegExp(
    `^${literal(config)}/${literal(name)}-${literal(split)}(-\\d+-of-\\d+)?\\.parquet$`,
  );
  const legacy = files.filter((f) => old.test(f.path)).sort(byPath);
  return legacy.length ? { files: legacy, partial: false } : undefined;
}

/** The `config/split` pairs a listing of a Parquet branch holds, for messages. */
function splitsOf(files: readonly RepoFile[]): string[] {
  const pairs = new Set<string>();
  for (const { path } of files) {
    const parts = path.split('/');
    if (!PARQUET.test(path) || parts.length < 2) continue;
    if (parts.length >= 3) pairs.add(`${parts[0]}/${parts[1]!.replace(/^partial-/, '')}`);
    else {
      const split = /-([^-]+?)(-\d+-of-\d+)?\.parquet$/.exec(parts[1]!)?.[1];
      if (split) pairs.add(`${parts[0]}/${split}`);
    }
  }
  return [...pairs].sort();
}

/**
 * The Parquet files of a split of a dataset config, as the Hub converted them on the branch
 * `refs/convert/parquet`, listed through a store: `new NodeHubCache()` or a `BrowserHubCache`
 * (which then cache the listing's commit, and the files when opened), or
 * `new RemoteStore(new HubClient())`. Open each file at the commit it resolved to, with
 * `store.open(dataset, result.commit, file.path, { repoType: 'dataset' })`; a cache keeps the
 * ref `refs/convert/parquet` → commit, so the same calls work offline afterwards (where the
 * listing is what the cache holds: the shards of a split downloaded only in part are missing).
 *
 * @example
 * ```ts
 * const cache = new NodeHubCache();
 * const { commit, files } = await listParquetFiles(cache, 'EleutherAI/lambada_openai', 'default', 'test');
 * for (const file of files)
 *   console.log(await cache.file('EleutherAI/lambada_openai', commit, file.path, { repoType: 'dataset' }));
 * ```
 *
 * @throws {ParquetSplitNotFoundError} the conversion has no such config or split (it names those
 *   it has).
 * @throws {NotCachedError} offline, and no file of the split is cached.
 * @throws {RevisionNotFoundError} the dataset has no Parquet conversion.
 */
export async function listParquetFiles(
  store: Pick<CheckpointStore, 'resolve' | 'files' | 'offline'>,
  dataset: string,
  config: string,
  split: string,
  options: ListParquetFilesOptions = {},
): Promise<ParquetSplit> {
  const revision = options.revision ?? PARQUET_REVISION;
  const at = {
    repoType: 'dataset' as const,
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const commit = await store.resolve(dataset, revision, at);
  const listing = await store.files(dataset, commit, at);
  const picked = pickParquetFiles(listing, dataset, config, split);
  if (picked) return { dataset, config, split, revision, commit, ...picked };
  // Offline, a listing is what the cache holds: the split may well exist on the Hub.
  if (store.offline) throw new NotCachedError(dataset, revision, `${config}/${split}`, 'dataset');
  throw new ParquetSplitNotFoundError(dataset, revision, config, split, splitsOf(listing));
}
