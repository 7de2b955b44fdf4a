import { HubClient } from '@pythiajs/checkpoint-hub';

/** `stepN` branches in training order, then the others (`main`) by name. */
export function trainingOrder(names: readonly string[]): string[] {
  const step = (name: string) => {
    const m = /^step(\d+)$/.exec(name);
    return m ? Number(m[1]) : Number.POSITIVE_INFINITY;
  };
  return [...names].sort((a, b) => step(a) - step(b) || a.localeCompare(b));
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
