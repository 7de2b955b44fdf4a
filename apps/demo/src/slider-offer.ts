import type { RepoRef } from '@pythiajs/checkpoint-hub';
import { trainingOrder } from './checkpoints.js';
import type { CachedCheckpoint } from './worker/protocol.js';

/** A repository's branches, as far as the page knows them. */
export type BranchList =
  | { state: 'loading' }
  | { state: 'listed'; branches: readonly RepoRef[] }
  /** The Hub did not answer, or had no list for this repository. */
  | { state: 'unavailable' };

/** The revision chosen, and whether the visitor asked for it in the URL (`?revision=`). */
export interface Chosen {
  revision: string;
  fromUrl: boolean;
}

/** What the checkpoint slider offers for one repository. */
export interface SliderOffer {
  /** In training order. */
  revisions: string[];
  /** Those of them that load from the browser cache alone. */
  cached: ReadonlySet<string>;
  /** The revision to select now. */
  revision: string;
  /** One line under the slider: where the revisions come from, or why there are few. */
  note: string;
}

/**
 * Decides what the slider offers: the repository's own branches once the Hub has listed them,
 * so that nothing the repository lacks can be picked. Until then, or when the Hub cannot list
 * them (offline), only what the browser has cached, which loads without the Hub.
 *
 * A chosen revision the offer lacks moves to the default (`main`, else the latest), unless the
 * visitor asked for it in the URL (a commit or a tag is loaded though no slider position shows
 * it), or the list is still loading.
 */
export function sliderOffer(
  list: BranchList,
  cachedCheckpoints: readonly CachedCheckpoint[],
  chosen: Chosen,
): SliderOffer {
  if (list.state === 'listed') {
    const commits = new Set(cachedCheckpoints.map((c) => c.commit));
    const revisions = trainingOrder(list.branches.map((b) => b.name));
    // By commit: a branch that moved since it was cached names a checkpoint not stored.
    const cached = new Set(list.branches.filter((b) => commits.has(b.commit)).map((b) => b.name));
    return {
      revisions,
      cached,
      revision: settle(revisions, chosen),
      note: listedNote(revisions.length, cached.size),
    };
  }
  const revisions = trainingOrder(cachedCheckpoints.flatMap((c) => c.refs));
  const count = revisions.length;
  if (list.state === 'loading') {
    return {
      revisions,
      cached: new Set(revisions),
      revision: chosen.revision,
      note: 'Reading the list of checkpoints from the Hub…',
    };
  }
  return {
    revisions,
    cached: new Set(revisions),
    revision: settle(revisions, chosen),
    note:
      count === 0
        ? 'Without the Hub’s list, the slider offers the checkpoints cached in this browser: none yet.'
        : `Without the Hub’s list, the slider offers only the ${plural(count, 'checkpoint')} cached in this browser.`,
  };
}

function settle(revisions: readonly string[], chosen: Chosen): string {
  if (chosen.fromUrl || revisions.length === 0 || revisions.includes(chosen.revision)) {
    return chosen.revision;
  }
  return revisions.includes('main') ? 'main' : revisions.at(-1)!;
}

function listedNote(count: number, cached: number): string {
  if (count === 0) return 'The Hub lists no branches for this model.';
  const listed = `${plural(count, 'checkpoint')} on the Hub`;
  if (cached === 0) return `${listed}, none cached in this browser yet.`;
  if (cached === count) return `${listed}, all cached in this browser (marked green).`;
  return `${listed}; the ${cached === 1 ? 'one' : cached} cached in this browser ${cached === 1 ? 'is' : 'are'} marked green.`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
