import { HubClient } from '@pythiajs/checkpoint-hub';
import type { BranchList } from './slider-offer.js';

/**
 * A repository's branches from the Hub's refs API. Never throws: a Hub that does not answer
 * (offline) or has no such repository gives `unavailable`, and the page says why elsewhere,
 * when it lists the chosen revision.
 */
export async function readBranches(hub: string, repo: string): Promise<BranchList> {
  try {
    // One retry: this only shapes the slider, and a dead Hub should not hold the page up.
    const branches = await new HubClient({ endpoint: hub, retries: 1 }).refs(repo);
    return { state: 'listed', branches };
  } catch {
    return { state: 'unavailable' };
  }
}
