import { describe, expect, it } from 'vitest';
import {
  checkBlobName,
  checkCommitId,
  checkListing,
  isCommitId,
  isRepoFilePath,
  isRepoId,
  isRevisionName,
} from '../src/cache-paths.js';
import { UnsafeHubValueError } from '../src/index.js';

const SHA1 = 'a'.repeat(40);
const SHA256 = 'b'.repeat(64);

describe('the values a cache turns into paths', () => {
  it('commit ids are 40 lowercase hex digits', () => {
    expect(isCommitId(SHA1)).toBe(true);
    for (const bad of ['../../../x', 'A'.repeat(40), 'a'.repeat(39), 'a'.repeat(64), '', 'main'])
      expect(isCommitId(bad)).toBe(false);
    expect(() => checkCommitId('../../../x', 'http://hub')).toThrow(UnsafeHubValueError);
    expect(() => checkCommitId('../../../x', 'http://hub')).toThrow(
      'http://hub sent commit id "../../../x"',
    );
  });

  it('blob names are a 64-hex sha256 for LFS files and a 40-hex git blob id for the others', () => {
    expect(checkBlobName({ path: 'x', size: 1, oid: SHA1 }, '')).toBe(SHA1);
    expect(
      checkBlobName({ path: 'x', size: 1, oid: SHA1, lfs: { sha256: SHA256, size: 1 } }, ''),
    ).toBe(SHA256);
    const bad = [
      { path: 'x', size: 1, oid: '../../../secret.txt' },
      { path: 'x', size: 1, oid: SHA256 },
      { path: 'x', size: 1, oid: SHA1, lfs: { sha256: `../${'a'.repeat(61)}`, size: 1 } },
      { path: 'x', size: 1, oid: SHA1, lfs: { sha256: SHA1, size: 1 } },
      { path: 'x', size: 1, oid: SHA1.toUpperCase() },
    ];
    for (const file of bad) expect(() => checkBlobName(file, '')).toThrow(UnsafeHubValueError);
  });

  it('file paths are relative, with no empty, "." or ".." parts, backslashes or NULs', () => {
    for (const good of ['config.json', 'sub/notes.txt', '.gitattributes', 'a..b/..c', 'x y/z'])
      expect(isRepoFilePath(good), good).toBe(true);
    for (const bad of [
      '',
      '../x',
      'a/../../x',
      '/etc/passwd',
      'a//b',
      'a/',
      './a',
      'a/.',
      'a\\..\\b',
      'a\0b',
      '..',
    ])
      expect(isRepoFilePath(bad), bad).toBe(false);
  });

  it('revisions follow git ref rules: "/" inside is allowed, ".." and leading "/" are not', () => {
    for (const good of ['main', 'step1000', 'refs/pr/1', 'v1.0', SHA1, 'feature-x_y'])
      expect(isRevisionName(good), good).toBe(true);
    for (const bad of [
      '',
      '../x',
      'a/../b',
      '/main',
      'main/',
      'a//b',
      '.hidden',
      'a/.b',
      'a\\b',
      'a\0b',
      'a b',
      'a:b',
      'x.lock',
      'x.',
      '@',
      'a@{1}',
    ])
      expect(isRevisionName(bad), JSON.stringify(bad)).toBe(false);
  });

  it('repo ids are owner/name as huggingface_hub validates them', () => {
    for (const good of ['EleutherAI/pythia-70m-deduped', 'gpt2', 'test/tiny-neox-f16', 'a_b/c.d'])
      expect(isRepoId(good), good).toBe(true);
    for (const bad of ['', '../x', 'a/../b', 'a/b/c', 'a--b/c', '/a', 'a/', 'a\\b', '-a/b', 'a/b.'])
      expect(isRepoId(bad), bad).toBe(false);
  });

  it('a listing with one bad entry is refused whole, naming the value', () => {
    const listing = [
      { path: 'config.json', size: 2, oid: SHA1 },
      { path: '../../../../planted.json', size: 2, oid: SHA1 },
    ];
    expect(() => checkListing(listing, 'http://hub')).toThrow(
      expect.objectContaining({
        name: 'UnsafeHubValueError',
        what: 'file path',
        value: '../../../../planted.json',
        endpoint: 'http://hub',
      }),
    );
  });
});
