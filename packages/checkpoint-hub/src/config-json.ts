import { CorruptCheckpointError } from './errors.js';
import type { CheckpointStore } from './remote-store.js';

/**
 * `config.json` parsed, refusing text that is not a JSON object. `file` names it with its repo
 * and revision, so a damaged cache entry is reported as what it is rather than as a bare
 * `JSON.parse` position.
 *
 * @throws {CorruptCheckpointError} not JSON, or JSON but not an object.
 */
export function parseConfigJson(text: string, file: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CorruptCheckpointError(file, `it is not valid JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    const kind = json === null ? 'null' : Array.isArray(json) ? 'an array' : `a ${typeof json}`;
    throw new CorruptCheckpointError(
      file,
      `it is JSON but ${kind}, not the object of a model config`,
    );
  }
  return json as Record<string, unknown>;
}

/**
 * A revision's `config.json` alone — a few hundred bytes — so that a model can be judged (its
 * context, the memory it needs) before its weights are downloaded.
 *
 * @example
 * ```ts
 * import { NodeHubCache } from '@pythiajs/checkpoint-hub/node';
 * const config = await readConfigJson(new NodeHubCache(), 'EleutherAI/pythia-70m', 'step3000');
 * config.num_hidden_layers; // 6
 * ```
 * @throws {CorruptCheckpointError} naming `config.json of <repo>@<revision>`.
 */
export async function readConfigJson(
  store: CheckpointStore,
  repo: string,
  revision: string,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  const source = await store.open(repo, revision, 'config.json', signal ? { signal } : {});
  try {
    const text = new TextDecoder().decode(await source.read(0, source.size));
    return parseConfigJson(text, `config.json of ${repo}@${revision}`);
  } finally {
    await source.close?.();
  }
}
