/** Where a model's files live on a Hugging Face Hub. */
export interface HubRepo {
  hub: string;
  model: string;
  revision: string;
}

/** A file could not be downloaded; `message` says why and what to change. */
export class HubFetchError extends Error {
  override name = 'HubFetchError';
}

/** The Hub has no answer after this long: better to say so than to show "Loading…" forever. */
const HEADERS_TIMEOUT_MS = 30_000;

/**
 * URL of `file` in the Hub's `{hub}/{model}/resolve/{revision}/{file}` layout. Each part of the
 * repository id is escaped on its own so the `/` between organisation and name survives, while a
 * revision such as `refs/pr/1` is escaped whole, as the Hub expects.
 */
export function resolveUrl(repo: HubRepo, file: string): string {
  let base: URL;
  try {
    base = new URL(repo.hub);
  } catch {
    throw new HubFetchError(
      `"${repo.hub}" is not a URL. Give ?hub= as a full address such as https://huggingface.co.`,
    );
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new HubFetchError(`?hub= must be an http or https URL, not "${repo.hub}".`);
  }
  const model = repo.model.split('/').map(encodeURIComponent).join('/');
  const path = `${model}/resolve/${encodeURIComponent(repo.revision)}/${file}`;
  return `${base.href.replace(/\/+$/, '')}/${path}`;
}

/**
 * Downloads a text file of `repo`. Every failure becomes a {@link HubFetchError} whose message a
 * reader can act on: which address failed and which query parameter points elsewhere.
 */
export async function fetchHubText(
  repo: HubRepo,
  file: string,
  fetchImpl: typeof fetch = globalThis.fetch,
): Promise<string> {
  const url = resolveUrl(repo, file);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), HEADERS_TIMEOUT_MS);
  let response: Response;
  try {
    response = await fetchImpl(url, { signal: abort.signal });
  } catch (error) {
    throw new HubFetchError(
      abort.signal.aborted
        ? `${repo.hub} did not answer within ${HEADERS_TIMEOUT_MS / 1000} s ` +
            `while downloading ${url}. ${unreachableHint(repo)}`
        : `Could not download ${url} (${describe(error)}). ${unreachableHint(repo)}`,
    );
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok) {
    const status = `${response.status} ${response.statusText}`.trim();
    throw new HubFetchError(
      `${url} answered ${status}. Check that the model "${repo.model}" and the revision ` +
        `"${repo.revision}" exist (?model=, ?revision=); ` +
        'gated and private repositories are not supported.',
    );
  }
  try {
    return await response.text();
  } catch (error) {
    throw new HubFetchError(`The download of ${url} broke off (${describe(error)}).`);
  }
}

function unreachableHint(repo: HubRepo): string {
  return (
    `This page needs network access to the Hugging Face Hub (${repo.hub}). ` +
    'Without it, serve the files (allowing cross-origin requests) from a mirror or a local ' +
    'folder laid out as {model}/resolve/{revision}/tokenizer.json and add ' +
    '?hub=http://localhost:8080 (its address) to this page.'
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
