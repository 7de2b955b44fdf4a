import {
  BrowserHubCache,
  type CheckpointStore,
  LocalFolderNotFoundError,
  parseModelRef,
} from '@pythiajs/checkpoint-hub';
import { ModelSourceError } from './errors.js';

/** Where a model comes from: a Hub reference, or a checkpoint folder on disk (Node). */
export type ModelSource = string | { repo: string; revision?: string } | { folder: string };

/** Options of {@link resolveModelSource}. */
export interface ResolveSourceOptions {
  /** The revision of a Hub source (default: the `@revision` of the reference, else `main`). */
  revision?: string;
  /** Where files come from. Default: see {@link ResolvedSource.store}. */
  store?: CheckpointStore;
  /**
   * Where the model runs (`device.environment` of a tensor-core `Device`): only Node has local
   * folders, and each environment has its own default cache.
   */
  environment: 'node' | 'browser';
}

/** A model source resolved to what `openCheckpoint` takes. */
export interface ResolvedSource {
  /** The Hub repo (`EleutherAI/pythia-160m`), or the folder's path. */
  repo: string;
  /** A branch, tag or commit; `local` for a folder. */
  revision: string;
  /**
   * The store given, else: a `LocalFolderStore` for a folder; the Hugging Face cache on disk
   * (`NodeHubCache`) in Node; the browser cache (`BrowserHubCache`) in browsers.
   */
  store: CheckpointStore;
  /** A checkpoint folder on disk rather than a Hub revision. */
  local: boolean;
  /** How to name it to a person: `EleutherAI/pythia-160m@step1000`, or the folder. */
  label: string;
}

// Variable specifiers keep browser bundlers from following these Node-only imports.
const NODE_HUB = '@pythiajs/checkpoint-hub/node';
const NODE_FS = 'node:fs';
const NODE_PATH = 'node:path';

export async function nodeHub() {
  return (await import(
    /* @vite-ignore */ NODE_HUB
  )) as typeof import('@pythiajs/checkpoint-hub/node');
}

// The little of node:fs and node:path used here, typed by hand: this package builds without Node's types.
interface NodeFs {
  statSync(
    path: string,
    options: { throwIfNoEntry: false },
  ): { isDirectory(): boolean } | undefined;
}
interface NodePath {
  resolve(path: string): string;
}

async function isDirectory(path: string): Promise<boolean> {
  const fs = (await import(/* @vite-ignore */ NODE_FS)) as NodeFs;
  return fs.statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/** Text that can only be a path (`./x`, `../x`, `/x`, `~/x`, `C:\x`, `a/b/c`), never a Hub reference. */
function looksLikePath(text: string): boolean {
  return /^(\.{1,2}[\\/]|[\\/]|~|[A-Za-z]:[\\/])/.test(text) || text.split('/').length > 2;
}

/**
 * Resolves a model source to a repo, a revision and the store to read them from — the first
 * step of `NeoXModel.load`, exported so that a program which opens the checkpoint itself (to read
 * `config.json` first, say) resolves a source exactly as `load` does:
 *
 * - `{ folder }`, or (in Node) a string naming an existing directory: that checkpoint folder;
 * - (in Node) a string that can only be a path (`./x`, `/x`, `a/b/c`) but is no directory: a
 *   `LocalFolderNotFoundError`, not an "unknown repo" from the Hub;
 * - anything else: a Hub reference (`EleutherAI/pythia-160m`, `pythia-70m-deduped@step3000`),
 *   or `{ repo, revision }`.
 *
 * @example
 * ```ts
 * const { repo, revision, store, label } = await resolveModelSource('pythia-70m@step3000', {
 *   environment: 'node',
 * }); // 'EleutherAI/pythia-70m', 'step3000', a NodeHubCache, 'EleutherAI/pythia-70m@step3000'
 * ```
 * @throws {ModelSourceError} a revision for a folder, or a `repo@revision` reference and a
 *   `revision` option that disagree.
 * @throws {LocalFolderNotFoundError} a path that names no directory.
 * @throws {InvalidModelRefError} text that is neither a folder nor a model reference.
 */
export async function resolveModelSource(
  source: ModelSource,
  options: ResolveSourceOptions,
): Promise<ResolvedSource> {
  const node = options.environment === 'node';
  const folder =
    typeof source === 'object' && 'folder' in source
      ? source.folder
      : typeof source === 'string' && node && (await isDirectory(source))
        ? source
        : undefined;
  if (folder !== undefined) {
    if (options.revision !== undefined)
      throw new ModelSourceError(
        `revision ${options.revision} applies to Hub repos; ${folder} is a local folder (its only revision is local)`,
      );
    return {
      repo: folder,
      revision: 'local',
      store: options.store ?? new (await nodeHub()).LocalFolderStore(),
      local: true,
      label: folder,
    };
  }
  if (typeof source === 'string' && node && looksLikePath(source)) {
    const path = (await import(/* @vite-ignore */ NODE_PATH)) as NodePath;
    throw new LocalFolderNotFoundError(path.resolve(source));
  }
  // What is left is a Hub reference: a string, or { repo, revision } (a folder returned above).
  const hub = source as string | { repo: string; revision?: string };
  const ref =
    typeof hub === 'string'
      ? { ...parseModelRef(hub), named: hub.includes('@') }
      : { repo: hub.repo, revision: hub.revision ?? 'main', named: hub.revision !== undefined };
  if (ref.named && options.revision !== undefined && options.revision !== ref.revision)
    throw new ModelSourceError(
      `${typeof hub === 'string' ? hub : `${ref.repo}@${ref.revision}`} names revision ${ref.revision} ` +
        `and the revision option says ${options.revision}; give one`,
    );
  const revision = options.revision ?? ref.revision;
  const store =
    options.store ?? (node ? new (await nodeHub()).NodeHubCache() : await BrowserHubCache.create());
  return { repo: ref.repo, revision, store, local: false, label: `${ref.repo}@${revision}` };
}
