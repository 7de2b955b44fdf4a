import { env } from './env.js';
import {
  EntryNotFoundError,
  HubAccessError,
  HubNetworkError,
  RepoNotFoundError,
  RevisionNotFoundError,
} from './errors.js';

/** Options of {@link HubClient}. */
export interface HubClientOptions {
  /** Default: `HF_ENDPOINT`, else `https://huggingface.co`. */
  endpoint?: string;
  /** Sent as `Authorization: Bearer` to the endpoint's origin only. Default: `HF_TOKEN`. */
  token?: string;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Attempts after the first, on network errors, 5xx and 429. Default 5. */
  retries?: number;
  /** First backoff delay; it doubles on each retry (with jitter). Default 250 ms. */
  retryDelayMs?: number;
}

/** A file of a revision, as the Hub's tree listing describes it. */
export interface RepoFile {
  path: string;
  size: number;
  /** Git blob id (sha1): the Hugging Face cache names non-LFS blobs after it. */
  oid: string;
  /** For LFS files (weights): the sha256 of the content, which names the cached blob. */
  lfs?: { sha256: string; size: number };
}

/** A branch of a repository, e.g. `step3000`, and the commit it points to. */
export interface RepoRef {
  name: string;
  commit: string;
}

/** Where a download writes; the Node cache and the browser cache each provide one. */
export interface DownloadTarget {
  /** Bytes already written: a resumed download asks the server for the rest only. */
  readonly length: number;
  append(chunk: Uint8Array): Promise<void> | void;
  /** Forget what was written (the server ignored the Range request and sent everything). */
  reset(): Promise<void> | void;
}

/** Bytes done of one file, for progress bars. */
export interface FileProgress {
  path: string;
  loaded: number;
  total: number;
}

const MAX_REDIRECTS = 10;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

/**
 * A client of the Hugging Face Hub's HTTP API, for browsers and Node (through `fetch`): revision
 * and file listings, branches, Range reads and resumable downloads, with retries on network
 * errors, 5xx and 429 (honouring `Retry-After`), and one typed error per failure.
 *
 * @example
 * ```ts
 * const hub = new HubClient();
 * const { commit } = await hub.revision('EleutherAI/pythia-70m-deduped', 'step3000');
 * const files = await hub.listFiles('EleutherAI/pythia-70m-deduped', commit);
 * ```
 */
export class HubClient {
  readonly endpoint: string;
  private readonly token: string | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly retries: number;
  private readonly retryDelayMs: number;

  constructor(options: HubClientOptions = {}) {
    this.endpoint = (options.endpoint ?? env('HF_ENDPOINT') ?? 'https://huggingface.co').replace(
      /\/+$/,
      '',
    );
    this.token = options.token ?? env('HF_TOKEN');
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.retries = options.retries ?? 5;
    this.retryDelayMs = options.retryDelayMs ?? 250;
  }

  /** URL of a file at a revision (`/{repo}/resolve/{revision}/{path}`, revision URL-encoded). */
  fileUrl(repo: string, revision: string, path: string): string {
    const encodedPath = path.split('/').map(encodeURIComponent).join('/');
    return `${this.endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${encodedPath}`;
  }

  /** The commit a branch, tag or commit id points to, and the files it holds. */
  async revision(
    repo: string,
    revision: string,
    signal?: AbortSignal,
  ): Promise<{ commit: string; files: string[] }> {
    const url = `${this.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;
    const response = await this.request(url, { signal }, { repo, revision });
    const body = (await response.json()) as {
      sha?: unknown;
      siblings?: Array<{ rfilename?: unknown }>;
    };
    if (typeof body.sha !== 'string')
      throw new HubNetworkError(url, 1, 'the answer has no commit sha');
    return { commit: body.sha, files: (body.siblings ?? []).map((s) => String(s.rfilename)) };
  }

  /** Every file of a revision with its size and checksums (follows the listing's pages). */
  async listFiles(repo: string, revision: string, signal?: AbortSignal): Promise<RepoFile[]> {
    const files: RepoFile[] = [];
    let url: string | undefined =
      `${this.endpoint}/api/models/${repo}/tree/${encodeURIComponent(revision)}?recursive=true`;
    while (url) {
      const response = await this.request(url, { signal }, { repo, revision });
      const page = (await response.json()) as Array<Record<string, unknown>>;
      for (const entry of page) {
        if (entry.type !== 'file') continue;
        const lfs = entry.lfs as { oid?: unknown; size?: unknown } | undefined;
        files.push({
          path: String(entry.path),
          size: Number(entry.size),
          oid: String(entry.oid),
          ...(lfs && typeof lfs.oid === 'string'
            ? { lfs: { sha256: lfs.oid, size: Number(lfs.size) } }
            : {}),
        });
      }
      url = nextPage(response.headers.get('link'), url);
    }
    return files;
  }

  /** The branches of a repository (for Pythia: `main` and the 154 `step…` checkpoints). */
  async refs(repo: string, signal?: AbortSignal): Promise<RepoRef[]> {
    const response = await this.request(
      `${this.endpoint}/api/models/${repo}/refs`,
      { signal },
      { repo },
    );
    const body = (await response.json()) as {
      branches?: Array<{ name?: unknown; targetCommit?: unknown }>;
    };
    return (body.branches ?? []).map((b) => ({
      name: String(b.name),
      commit: String(b.targetCommit),
    }));
  }

  /** Bytes `[offset, offset + length)` of a file: how only the needed tensors are fetched. */
  async readRange(
    repo: string,
    revision: string,
    path: string,
    offset: number,
    length: number,
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0);
    const url = this.fileUrl(repo, revision, path);
    for (let attempt = 0; ; attempt++) {
      const response = await this.request(
        url,
        { headers: { Range: `bytes=${offset}-${offset + length - 1}` }, signal },
        { repo, revision, path },
      );
      try {
        const bytes = new Uint8Array(await response.arrayBuffer());
        if (response.status === 206 && bytes.length === length) return bytes;
        if (response.status === 200 && bytes.length >= offset + length)
          return bytes.slice(offset, offset + length);
        throw new Error(`got ${bytes.length} bytes for a range of ${length}`);
      } catch (error) {
        if (signal?.aborted || attempt >= this.retries)
          throw new HubNetworkError(url, attempt + 1, (error as Error).message);
        await sleep(this.backoff(attempt), signal);
      }
    }
  }

  /**
   * Downloads a file into `target`, resuming from `target.length` with a Range request, and again
   * from wherever the connection breaks, up to the retry limit.
   */
  async download(
    repo: string,
    revision: string,
    path: string,
    target: DownloadTarget,
    options: {
      size?: number;
      onProgress?: (progress: FileProgress) => void;
      signal?: AbortSignal;
    } = {},
  ): Promise<void> {
    const { size, onProgress, signal } = options;
    const url = this.fileUrl(repo, revision, path);
    let failures = 0;
    for (;;) {
      if (size !== undefined && target.length === size) return;
      const start = target.length;
      const headers: Record<string, string> = start > 0 ? { Range: `bytes=${start}-` } : {};
      const response = await this.request(url, { headers, signal }, { repo, revision, path });
      if (response.status === 416 && size !== undefined && start >= size) return;
      if (start > 0 && response.status !== 206) await target.reset();
      const total = size ?? (Number(response.headers.get('content-length')) || 0) + target.length;
      try {
        if (!response.body) throw new Error('the response has no body');
        const reader = response.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          await target.append(value);
          onProgress?.({ path, loaded: target.length, total });
        }
        if (size === undefined || target.length === size) return;
        throw new Error(`the connection closed after ${target.length} of ${size} bytes`);
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (++failures > this.retries)
          throw new HubNetworkError(url, failures, (error as Error).message);
        await sleep(this.backoff(failures - 1), signal);
      }
    }
  }

  private backoff(attempt: number): number {
    const base = this.retryDelayMs * 2 ** attempt;
    return Math.min(30_000, base / 2 + Math.random() * base);
  }

  /**
   * GET with retries and redirects followed by hand, so the token goes to the endpoint's origin
   * only (a download is redirected to a CDN host that must not see it).
   */
  private async request(
    url: string,
    init: { headers?: Record<string, string>; signal?: AbortSignal | undefined },
    context: { repo: string; revision?: string; path?: string },
  ): Promise<Response> {
    const endpointOrigin = new URL(this.endpoint).origin;
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.follow(url, init, endpointOrigin);
      } catch (error) {
        if (init.signal?.aborted) throw init.signal.reason;
        if (attempt >= this.retries)
          throw new HubNetworkError(url, attempt + 1, (error as Error).message);
        await sleep(this.backoff(attempt), init.signal);
        continue;
      }
      if (response.ok || response.status === 416) return response;
      const retryable = response.status >= 500 || response.status === 429;
      if (retryable && attempt < this.retries) {
        const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
        await response.body?.cancel();
        await sleep(retryAfter ?? this.backoff(attempt), init.signal);
        continue;
      }
      await response.body?.cancel();
      throw this.failure(response, url, attempt + 1, context);
    }
  }

  private async follow(
    url: string,
    init: { headers?: Record<string, string>; signal?: AbortSignal | undefined },
    endpointOrigin: string,
  ): Promise<Response> {
    let current = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const headers: Record<string, string> = { ...init.headers };
      if (this.token && new URL(current).origin === endpointOrigin)
        headers.Authorization = `Bearer ${this.token}`;
      const response = await this.fetchImpl(current, {
        headers,
        redirect: 'manual',
        signal: init.signal ?? null,
      });
      // Browsers hide redirects from scripts; there the browser itself drops the token on a
      // cross-origin redirect, as the Fetch standard requires.
      if (response.type === 'opaqueredirect') {
        return this.fetchImpl(current, {
          headers,
          redirect: 'follow',
          signal: init.signal ?? null,
        });
      }
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) return response;
      await response.body?.cancel();
      current = new URL(location, current).toString();
    }
    throw new Error(`more than ${MAX_REDIRECTS} redirects`);
  }

  private failure(
    response: Response,
    url: string,
    attempts: number,
    context: { repo: string; revision?: string; path?: string },
  ): Error {
    const code = response.headers.get('x-error-code');
    const { repo, revision = 'main', path } = context;
    if (response.status === 401 || response.status === 403) {
      // The Hub answers 401 for repos that do not exist too, unless a token was sent.
      return code === 'RepoNotFound'
        ? new RepoNotFoundError(repo)
        : new HubAccessError(repo, response.status);
    }
    if (response.status === 404) {
      if (code === 'RevisionNotFound') return new RevisionNotFoundError(repo, revision);
      if (code === 'EntryNotFound' && path) return new EntryNotFoundError(repo, revision, path);
      if (code === 'RepoNotFound' || !path) return new RepoNotFoundError(repo);
      return new EntryNotFoundError(repo, revision, path);
    }
    return new HubNetworkError(url, attempts, `HTTP ${response.status}`);
  }
}

function nextPage(link: string | null, base: string): string | undefined {
  if (!link) return undefined;
  const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  return match?.[1] ? new URL(match[1], base).toString() : undefined;
}

/** `Retry-After` in milliseconds: seconds, or an HTTP date. */
function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
