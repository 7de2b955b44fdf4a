import { UnsafeHubValueError } from './errors.js';
import type { RepoFile } from './hub-client.js';

/*
 * The one rule every path a cache builds follows: each part that comes from the Hub (a commit id,
 * a file path, a blob checksum) or from the caller (a repo id, a revision) is checked to be what
 * the Hub can legitimately send before it becomes a path or a storage key, so a hostile or broken
 * server (or a shard index naming `../../x`) can never make a cache write or read outside itself.
 * It is huggingface_hub's `_get_pointer_path` check, made stricter and applied to every part:
 * what passes here cannot contain a `..`, an absolute path, a backslash or a NUL.
 *
 * Browser-safe (no Node imports): NodeHubCache and BrowserHubCache both use it.
 *
 * `source` names where a value came from for the error message: the endpoint for the Hub's
 * answers, '' for the caller's own arguments.
 */

const COMMIT = /^[0-9a-f]{40}$/;
const SHA1 = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;
// Each part of a repo id as huggingface_hub's validate_repo_id allows it.
const REPO_PART = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
// What git's check-ref-format forbids anywhere in a ref name, besides `..` and `@{`.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
const REF_FORBIDDEN = /[\u0000-\u0020\u007f~^:?*[\\]/;

/** Whether `value` is a full commit id (40 lowercase hex digits), as the Hub sends them. */
export function isCommitId(value: string): boolean {
  return COMMIT.test(value);
}

/** Whether `value` names a blob: a git blob id (40 hex) or a sha256 (64 hex), lowercase. */
export function isBlobName(value: string): boolean {
  return SHA1.test(value) || SHA256.test(value);
}

/**
 * Returns `value` if it is a full commit id.
 *
 * @throws {UnsafeHubValueError} anything else: it would become `snapshots/<commit>` and `refs/…`.
 */
export function checkCommitId(value: string, source: string): string {
  if (!COMMIT.test(value)) throw new UnsafeHubValueError('commit id', value, source);
  return value;
}

/**
 * The blob name of a listed file, checked: the sha256 of an LFS file (64 hex digits), git's blob
 * id (40 hex digits) of the others.
 *
 * @throws {UnsafeHubValueError} a checksum of another shape: it would become `blobs/<name>`.
 */
export function checkBlobName(file: RepoFile, source: string): string {
  if (file.lfs) {
    if (!SHA256.test(file.lfs.sha256))
      throw new UnsafeHubValueError('LFS sha256', file.lfs.sha256, source);
    return file.lfs.sha256;
  }
  if (!SHA1.test(file.oid)) throw new UnsafeHubValueError('git blob id', file.oid, source);
  return file.oid;
}

/** Whether `path` is a file path inside a repository: relative, `/`-separated, no `.` or `..`. */
export function isRepoFilePath(path: string): boolean {
  if (path === '' || path.includes('\\') || path.includes('\0')) return false;
  // No leading '/' (absolute), no '//' or trailing '/' (empty parts), no '.' or '..' parts.
  return path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/**
 * Returns `path` if it is a file path inside a repository (see {@link isRepoFilePath}).
 *
 * @throws {UnsafeHubValueError} a path that could leave `snapshots/<commit>/`.
 */
export function checkRepoFilePath(path: string, source: string): string {
  if (!isRepoFilePath(path)) throw new UnsafeHubValueError('file path', path, source);
  return path;
}

/**
 * Whether `name` can be a branch or tag name, by git's ref rules (`git check-ref-format`): no
 * `..`, no control characters, spaces or `~^:?*[\`, no empty part or part starting with `.`,
 * no leading or trailing `/`, no `@{`, not ending in `.` or `.lock`. `/` inside is allowed
 * (`refs/pr/1`), as huggingface_hub writes such refs under `refs/` too.
 */
export function isRevisionName(name: string): boolean {
  if (name === '' || name === '@' || name.length > 255) return false;
  if (REF_FORBIDDEN.test(name) || name.includes('..') || name.includes('@{')) return false;
  if (name.endsWith('.')) return false;
  return name
    .split('/')
    .every((part) => part !== '' && !part.startsWith('.') && !part.endsWith('.lock'));
}

/**
 * Returns `revision` if it can be a branch, tag or commit id (see {@link isRevisionName}).
 *
 * @throws {UnsafeHubValueError} a revision that could leave `refs/`.
 */
export function checkRevision(revision: string, source: string): string {
  if (!isRevisionName(revision)) throw new UnsafeHubValueError('revision', revision, source);
  return revision;
}

/**
 * Whether `repo` is a Hub repo id as huggingface_hub accepts it: `name` or `owner/name`, letters,
 * digits, `_`, `.` and `-`, no `--` or `..`, at most 96 characters.
 */
export function isRepoId(repo: string): boolean {
  if (repo.length > 96 || repo.includes('--') || repo.includes('..')) return false;
  const parts = repo.split('/');
  return (
    parts.length <= 2 &&
    parts.every((part) => REPO_PART.test(part) && !part.endsWith('.') && !part.endsWith('-'))
  );
}

/**
 * Returns `repo` if it is a Hub repo id (see {@link isRepoId}).
 *
 * @throws {UnsafeHubValueError} anything else: it becomes the folder `models--owner--name`.
 */
export function checkRepoId(repo: string, source: string): string {
  if (!isRepoId(repo)) throw new UnsafeHubValueError('repository id', repo, source);
  return repo;
}

/**
 * Checks every entry of a tree listing (its path and blob name) before any of it is used or
 * stored: one bad entry rejects the listing, since it says the server is not a Hub to trust.
 *
 * @throws {UnsafeHubValueError} naming the first bad value.
 */
export function checkListing(files: readonly RepoFile[], source: string): RepoFile[] {
  for (const file of files) {
    checkRepoFilePath(file.path, source);
    checkBlobName(file, source);
  }
  return [...files];
}
