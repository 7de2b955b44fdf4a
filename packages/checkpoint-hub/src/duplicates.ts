import type { HubClient } from './hub-client.js';

/** Revisions that serve the same weights. */
export interface DuplicateCheckpoints {
  /** Groups of revisions whose weight files are identical (same sha256 for every file). */
  identical: string[][];
  /** Weight files shared by revisions that are otherwise different (e.g. one shard of main). */
  sharedFiles: Array<{ path: string; sha256: string; revisions: string[] }>;
}

const WEIGHT_FILE = /\.(safetensors|bin)$/;

/**
 * Finds revisions of a repo that carry the same weights, comparing the sha256 the Hub lists for
 * each weight file (tree listings only, no weight download). The Hub has known defects of this
 * kind: many pythia-2.8b step branches serve the final weights, and pythia-12b's step50000 and
 * step58000 carry main's first shard.
 *
 * @example
 * ```ts
 * const { identical } = await findDuplicateCheckpoints(new HubClient(), 'EleutherAI/pythia-2.8b', ['step1000', 'step2000', 'main']);
 * ```
 */
export async function findDuplicateCheckpoints(
  client: HubClient,
  repo: string,
  revisions: readonly string[],
  options: { signal?: AbortSignal; concurrency?: number } = {},
): Promise<DuplicateCheckpoints> {
  const fingerprints = new Map<string, Array<{ path: string; sha256: string }>>();
  const queue = [...revisions];
  const worker = async () => {
    for (let revision = queue.shift(); revision !== undefined; revision = queue.shift()) {
      const files = await client.listFiles(repo, revision, options.signal);
      fingerprints.set(
        revision,
        files
          .filter((f) => WEIGHT_FILE.test(f.path))
          .map((f) => ({ path: f.path, sha256: f.lfs?.sha256 ?? f.oid }))
          .sort((a, b) => a.path.localeCompare(b.path)),
      );
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(options.concurrency ?? 8, revisions.length) }, worker),
  );

  const byWeights = new Map<string, string[]>();
  const byFile = new Map<string, { path: string; sha256: string; revisions: string[] }>();
  for (const revision of revisions) {
    const files = fingerprints.get(revision) ?? [];
    if (files.length === 0) continue;
    const key = files.map((f) => f.sha256).join(',');
    byWeights.set(key, [...(byWeights.get(key) ?? []), revision]);
    for (const f of files) {
      const entry = byFile.get(f.sha256) ?? { path: f.path, sha256: f.sha256, revisions: [] };
      entry.revisions.push(revision);
      byFile.set(f.sha256, entry);
    }
  }
  const identical = [...byWeights.values()].filter((group) => group.length > 1);
  const grouped = new Set(identical.map((g) => g.join('\n')));
  const sharedFiles = [...byFile.values()].filter(
    (f) => f.revisions.length > 1 && !grouped.has(f.revisions.join('\n')),
  );
  return { identical, sharedFiles };
}
