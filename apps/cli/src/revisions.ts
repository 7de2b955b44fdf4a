import { HubClient } from '@pythiajs/checkpoint-hub';

/** `stepN` branches in training order, then the others (`main`) by name. */
export function trainingOrder(names: readonly string[]): string[] {
  return [...names].sort(compareRevisions);
}

/** The order of {@link trainingOrder}: `stepN` by N, then the other names alphabetically. */
export function compareRevisions(a: string, b: string): number {
  const step = (name: string) => {
    const m = /^step(\d+)$/.exec(name);
    return m ? Number(m[1]) : Number.POSITIVE_INFINITY;
  };
  return step(a) - step(b) || a.localeCompare(b);
}

/** The training checkpoints a repo publishes (its `stepN` branches; every branch if it has none). */
export async function repoCheckpoints(repo: string): Promise<string[]> {
  const names = (await new HubClient().refs(repo)).map((r) => r.name);
  const steps = names.filter((n) => /^step\d+$/.test(n));
  return trainingOrder(steps.length > 0 ? steps : names);
}

/**
 * Every branch of a repo in training order: the `stepN` checkpoints, then `main` and any others.
 * What "all revisions" of a download means: `main` is what a bare repo name loads, so it must be
 * there offline too (on Pythia repos it shares its files with step143000, stored once).
 */
export async function repoBranches(repo: string): Promise<string[]> {
  return trainingOrder((await new HubClient().refs(repo)).map((r) => r.name));
}

/**
 * The training checkpoints of a repo that the cache knows (its `stepN` refs), for
 * `--revisions all` offline: the Hub's list cannot be asked, and what is not cached cannot load.
 */
export async function cachedCheckpoints(
  store: { list(): Promise<Array<{ repo: string; revisions: Array<{ refs: string[] }> }>> },
  repo: string,
): Promise<string[]> {
  const cached = (await store.list()).find((r) => r.repo === repo);
  const refs = cached?.revisions.flatMap((r) => r.refs) ?? [];
  return trainingOrder(refs.filter((n) => /^step\d+$/.test(n)));
}
