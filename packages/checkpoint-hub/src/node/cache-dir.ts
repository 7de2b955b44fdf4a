import { homedir } from 'node:os';
import { join } from 'node:path';
import { env } from '../env.js';
import { checkRepoType, type RepoType, repoTypePlural } from '../repo-type.js';

/**
 * The Hugging Face hub cache directory, resolved as `huggingface_hub` resolves it so both share
 * downloads: `HF_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
 * `~/.cache/huggingface/hub`.
 */
export function defaultCacheDir(): string {
  const hubCache = env('HF_HUB_CACHE');
  if (hubCache) return hubCache;
  const home =
    env('HF_HOME') ?? join(env('XDG_CACHE_HOME') ?? join(homedir(), '.cache'), 'huggingface');
  return join(home, 'hub');
}

/**
 * `EleutherAI/pythia-70m` → `models--EleutherAI--pythia-70m`; with `'dataset'`,
 * `EleutherAI/lambada_openai` → `datasets--EleutherAI--lambada_openai` (huggingface_hub's
 * `repo_folder_name`).
 */
export function repoFolderName(repo: string, repoType: RepoType = 'model'): string {
  return `${repoTypePlural(checkRepoType(repoType))}--${repo.split('/').join('--')}`;
}
