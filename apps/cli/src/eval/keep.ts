import type { NodeHubCache } from '@pythiajs/checkpoint-hub/node';

/** `--keep`: which downloaded checkpoints stay in the Hub cache after a run. */
export type KeepPolicy = 'all' | 'last' | 'none';

/** A checkpoint evaluated in this run. */
interface Evaluated {
  repo: string;
  commit: string;
}

/**
 * Removes the checkpoints a run downloaded as `--keep` says, and only those: a commit with any
 * file in the cache before the run started is never touched (it was someone's before this run).
 * `none` removes each checkpoint once its units are done; `last` removes each one once the next
 * is done, so the last stays; `all` removes nothing. Blobs that another cached revision shares
 * (Pythia's `main` and `step143000`) stay with it.
 */
export class CheckpointKeeper {
  private readonly before: Set<string>;
  private previous: Evaluated | undefined;
  /** Bytes removed so far. */
  freed = 0;

  private constructor(
    private readonly cache: NodeHubCache,
    private readonly policy: KeepPolicy,
    before: Set<string>,
  ) {
    this.before = before;
  }

  /** Notes what the cache holds before the run touches it. */
  static async start(cache: NodeHubCache, policy: KeepPolicy): Promise<CheckpointKeeper> {
    const before = new Set<string>();
    if (policy !== 'all') {
      for (const repo of await cache.list())
        for (const revision of repo.revisions)
          if (revision.files.length > 0) before.add(`${repo.repo}@${revision.commit}`);
    }
    return new CheckpointKeeper(cache, policy, before);
  }

  /** A checkpoint's units are done (`local` folders are never removed). */
  async done(checkpoint: Evaluated & { local: boolean }): Promise<void> {
    if (this.policy === 'all' || checkpoint.local) return;
    if (this.policy === 'none') {
      await this.remove(checkpoint);
      return;
    }
    if (this.previous && this.previous.commit !== checkpoint.commit)
      await this.remove(this.previous);
    this.previous = checkpoint;
  }

  private async remove({ repo, commit }: Evaluated): Promise<void> {
    if (this.before.has(`${repo}@${commit}`)) return;
    this.freed += await this.cache.remove(repo, commit);
  }
}
