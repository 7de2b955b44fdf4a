import { sha1 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { RepoFile } from './hub-client.js';

/** An incremental hash: browsers' WebCrypto cannot hash a download as it streams. */
export interface IncrementalHash {
  update(chunk: Uint8Array): void;
  hex(): string;
}

/** The name of a file's blob in a cache: the LFS sha256 of weights, git's blob id otherwise. */
export function blobName(file: RepoFile): string {
  return file.lfs ? file.lfs.sha256 : file.oid;
}

/**
 * What names a file's blob in a cache and how to check its content, as the Hugging Face cache
 * does: the sha256 of LFS files (weights), git's blob id (sha1 of "blob {size}\0" + content) of
 * the others.
 */
export function fileChecksum(file: RepoFile): { etag: string; create: () => IncrementalHash } {
  if (file.lfs) {
    return { etag: blobName(file), create: () => wrap(sha256.create()) };
  }
  return {
    etag: blobName(file),
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
