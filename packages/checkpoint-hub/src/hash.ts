import { sha1 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { checkBlobName } from './cache-paths.js';
import type { RepoFile } from './hub-client.js';

/** An incremental hash: browsers' WebCrypto cannot hash a download as it streams. */
export interface IncrementalHash {
  update(chunk: Uint8Array): void;
  hex(): string;
}

/**
 * The name of a file's blob in a cache: the LFS sha256 of weights, git's blob id otherwise,
 * checked to be 64 or 40 lowercase hex digits since it becomes a path (`blobs/<name>`) or key.
 *
 * @param source where the listing came from (the endpoint), for the error message.
 * @throws {UnsafeHubValueError} a checksum of another shape.
 */
export function blobName(file: RepoFile, source = 'the Hub'): string {
  return checkBlobName(file, source);
}

/**
 * What names a file's blob in a cache and how to check its content, as the Hugging Face cache
 * does: the sha256 of LFS files (weights), git's blob id (sha1 of "blob {size}\0" + content) of
 * the others.
 */
export function fileChecksum(
  file: RepoFile,
  source?: string,
): { etag: string; create: () => IncrementalHash } {
  const etag = blobName(file, source);
  if (file.lfs) {
    return { etag, create: () => wrap(sha256.create()) };
  }
  return {
    etag,
    create: () => {
      const hash = wrap(sha1.create());
      hash.update(new TextEncoder().encode(`blob ${file.size}\0`));
      return hash;
    },
  };
}

function wrap(h: { update(b: Uint8Array): unknown; digest(): Uint8Array }): IncrementalHash {
  return {
    update: (chunk) => {
      h.update(chunk);
    },
    hex: () => bytesToHex(h.digest()),
  };
}
