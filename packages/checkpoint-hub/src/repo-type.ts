import { UnsafeHubValueError } from './errors.js';

/**
 * The kind of a Hub repository: a model (the default everywhere) or a dataset. It picks the API
 * routes (`/api/models/…` or `/api/datasets/…`, `/{repo}/resolve/…` or `/datasets/{repo}/resolve/…`)
 * and the cache folder (`models--owner--name` or `datasets--owner--name`), as huggingface_hub's
 * `repo_type` does.
 */
export type RepoType = 'model' | 'dataset';

/** Which kind of repository a call is about, and the signal that stops it. */
export interface RepoOptions {
  /** Default `'model'`. */
  repoType?: RepoType;
  signal?: AbortSignal;
}

/**
 * The branch on which the Hub publishes a dataset converted to Parquet: `{config}/{split}/0000.parquet`
 * (`{config}/partial-{split}/…` where only part of a large split was converted; the oldest
 * conversions have `{config}/{name}-{split}.parquet`). In URLs it is `refs%2Fconvert%2Fparquet`,
 * and in a cache its ref is the file `refs/refs/convert/parquet`, as huggingface_hub writes it.
 */
export const PARQUET_REVISION = 'refs/convert/parquet';

/**
 * `repoType` checked: it becomes a path (`datasets--…`) and part of every URL, so a JavaScript
 * caller's `'space'` or `'../x'` is refused rather than built into either.
 *
 * @throws {UnsafeHubValueError} anything but `'model'` or `'dataset'`.
 */
export function checkRepoType(repoType: unknown): RepoType {
  if (repoType === undefined) return 'model';
  if (repoType === 'model' || repoType === 'dataset') return repoType;
  throw new UnsafeHubValueError('repository type', String(repoType), '');
}

/**
 * The options of a method whose last parameter was an `AbortSignal` and may now also be
 * {@link RepoOptions}: `client.revision(repo, rev, signal)` keeps working beside
 * `client.revision(repo, rev, { repoType: 'dataset', signal })`.
 */
export function repoOptions(options: AbortSignal | RepoOptions | undefined): {
  repoType: RepoType;
  signal?: AbortSignal;
} {
  if (options === undefined) return { repoType: 'model' };
  if (isSignal(options)) return { repoType: 'model', signal: options };
  const repoType = checkRepoType(options.repoType);
  return options.signal ? { repoType, signal: options.signal } : { repoType };
}

function isSignal(value: AbortSignal | RepoOptions): value is AbortSignal {
  if (typeof AbortSignal !== 'undefined' && value instanceof AbortSignal) return true;
  // A signal of another realm (a test environment's): it has `aborted`, which options never have.
  const candidate = value as { aborted?: unknown; addEventListener?: unknown };
  return typeof candidate.aborted === 'boolean' && typeof candidate.addEventListener === 'function';
}

/** `model` → `models`, `dataset` → `datasets`: the API's route and the cache folder's prefix. */
export function repoTypePlural(repoType: RepoType): 'models' | 'datasets' {
  return repoType === 'dataset' ? 'datasets' : 'models';
}
