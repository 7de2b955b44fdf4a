import { checkRepoFilePath } from './cache-paths.js';
import { env, millisecondsFromEnv } from './env.js';
import {
  CheckpointHubError,
  EntryNotFoundError,
  HubAccessError,
  HubNetworkError,
  HubResponseError,
  HubTimeoutError,
  IncompleteListingError,
  RepoNotFoundError,
  RevisionNotFoundError,
} from './errors.js';
import {
  isHtml,
  nextPage,
  parseJson,
  parseRefs,
  parseRevision,
  parseTreePage,
  quote,
} from './hub-answers.js';
import {
  checkRepoType,
  type RepoOptions,
  type RepoType,
  repoOptions,
  repoTypePlural,
} from './repo-type.js';
import { backoff, parseRetryAfter, RetryBudget, sleep } from './retry.js';
import { SilenceError, TimedExchange } from './timed-fetch.js';

/** Options of {@link HubClient}. */
export interface HubClientOptions {
  /** Default: `HF_ENDPOINT`, else `https://huggingface.co`. */
  endpoint?: string;
  /** Sent as `Authorization: Bearer` to the endpoint's origin only. Default: `HF_TOKEN`. */
  token?: string;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
  /**
   * Attempts after the first, on network errors, timeouts, 5xx and 429. Only failures in a row
   * without progress count: a download or range read that received new bytes before it broke
   * starts the count again, so a long download over a flaky link completes. Default 5.
   */
  retries?: number;
  /**
   * How many of those retries may follow a timeout, each of which has already waited a whole
   * timeout. Default 2: a server that stops answering is given up on after 3 timeouts in a row,
   * about 31 s with the default timeouts (3 × 10 s and the backoff), with a `HubTimeoutError`.
   */
  timeoutRetries?: number;
  /** First backoff delay; it doubles on each retry (with jitter). Default 250 ms. */
  retryDelayMs?: number;
  /**
   * How long an API request (revision, tree listing, refs) waits for the response headers
   * (connecting included), and then for each next part of its body, before the attempt is given
   * up and retried. Default: `HF_HUB_ETAG_TIMEOUT` seconds, else 10 s. `Infinity` waits for ever.
   */
  timeoutMs?: number;
  /**
   * The same for file content (downloads and range reads): the wait for the response headers,
   * redirects to the CDN included, and then for each next part of the body. A download that times
   * out resumes with a Range request. Default: `HF_HUB_DOWNLOAD_TIMEOUT` seconds, else 10 s.
   */
  downloadTimeoutMs?: number;
}

/** Options of {@link HubClient.listFiles}. */
export interface ListFilesOptions extends RepoOptions {
  /**
   * List only this folder of the revision (and its subfolders), e.g. `default/test` of a dataset's
   * Parquet branch: `/api/…/tree/{revision}/{path}`. Default: the whole revision.
   */
  path?: string;
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

/** huggingface_hub's default for both of its timeouts. */
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_RETRIES = 5;
const DEFAULT_TIMEOUT_RETRIES = 2;
const MAX_REDIRECTS = 10;
/** Far more pages than any repository's listing has (the Hub sends 1000 entries a page). */
const MAX_PAGES = 10_000;
/** How much of an error page is read to say what it is. */
const ERROR_PAGE_BYTES = 512;
/**
 * Statuses that say the Hub is busy or down behind its gateway (rate limit, outage): not a wrong
 * endpoint, even when the answer is an HTML page.
 */
const TRANSIENT_STATUSES = new Set([429, 502, 503, 504]);

/** How long one kind of request waits, and the variable that sets it. */
interface Patience {
  ms: number;
  variable: 'HF_HUB_ETAG_TIMEOUT' | 'HF_HUB_DOWNLOAD_TIMEOUT';
}

interface Context {
  repo: string;
  repoType: RepoType;
  revision?: string;
  path?: string;
}

/**
 * An error raised on this side of a download (by the target, i.e. the disk, or by a progress
 * callback): not the network's, so it is rethrown unchanged at once, never retried. A full disk
 * must reach the cache layer with its `code` (ENOSPC, EROFS…), not as "check the connection".
 */
class LocalFailure extends Error {
  constructor(readonly error: unknown) {
    super('a local failure');
  }
}

async function local(work: () => unknown): Promise<void> {
  try {
    await work();
  } catch (error) {
    throw new LocalFailure(error);
  }
}

/**
 * A client of the Hugging Face Hub's HTTP API, for browsers and Node (through `fetch`): revision
 * and file listings, branches, Range reads and resumable downloads, with retries on network
 * errors, timeouts, 5xx and 429 (honouring `Retry-After`), and one typed error per failure.
 *
 * It never waits for ever: every request has a timeout for its answer and for each part of its
 * body (see {@link HubClientOptions.timeoutMs}), and with the defaults a server that goes silent
 * is given up on within about 31 s with a `HubTimeoutError`. Answers that are not what the Hub's
 * API returns (an HTML page, a wrong shape, a listing whose pages loop) are a `HubResponseError`
 * at once.
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
  private readonly timeoutRetries: number;
  private readonly retryDelayMs: number;
  private readonly api: Patience;
  private readonly content: Patience;
  /** File names of the revisions this client resolved, by `repo@commit`, to check listings by. */
  private readonly siblings = new Map<string, readonly string[]>();

  constructor(options: HubClientOptions = {}) {
    this.endpoint = (options.endpoint ?? env('HF_ENDPOINT') ?? 'https://huggingface.co').replace(
      /\/+$/,
      '',
    );
    this.token = options.token ?? env('HF_TOKEN');
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.retries = options.retries ?? DEFAULT_RETRIES;
    this.timeoutRetries = options.timeoutRetries ?? DEFAULT_TIMEOUT_RETRIES;
    this.retryDelayMs = options.retryDelayMs ?? 250;
    this.api = {
      ms: options.timeoutMs ?? millisecondsFromEnv('HF_HUB_ETAG_TIMEOUT') ?? DEFAULT_TIMEOUT_MS,
      variable: 'HF_HUB_ETAG_TIMEOUT',
    };
    this.content = {
      ms:
        options.downloadTimeoutMs ??
        millisecondsFromEnv('HF_HUB_DOWNLOAD_TIMEOUT') ??
        DEFAULT_TIMEOUT_MS,
      variable: 'HF_HUB_DOWNLOAD_TIMEOUT',
    };
  }

  /**
   * URL of a file at a revision: `/{repo}/resolve/{revision}/{path}` for a model,
   * `/datasets/{repo}/resolve/{revision}/{path}` for a dataset. The revision is one URL-encoded
   * part (`refs%2Fconvert%2Fparquet`), each part of the path is encoded, as huggingface_hub does.
   */
  fileUrl(repo: string, revision: string, path: string, options: RepoOptions = {}): string {
    const repoType = checkRepoType(options.repoType);
    const encodedPath = path.split('/').map(encodeURIComponent).join('/');
    const prefix = repoType === 'dataset' ? 'datasets/' : '';
    return `${this.endpoint}/${prefix}${repo}/resolve/${encodeURIComponent(revision)}/${encodedPath}`;
  }

  /** `{endpoint}/api/models/{repo}` or `{endpoint}/api/datasets/{repo}`. */
  private apiUrl(repo: string, repoType: RepoType): string {
    return `${this.endpoint}/api/${repoTypePlural(repoType)}/${repo}`;
  }

  /**
   * The commit a branch, tag or commit id points to, and the files it holds. The last argument is
   * a signal, or {@link RepoOptions} (`{ repoType: 'dataset', signal }` for a dataset).
   */
  async revision(
    repo: string,
    revision: string,
    options?: AbortSignal | RepoOptions,
  ): Promise<{ commit: string; files: string[] }> {
    const { repoType, signal } = repoOptions(options);
    const url = `${this.apiUrl(repo, repoType)}/revision/${encodeURIComponent(revision)}`;
    const { answer } = await this.getJson(url, signal, { repo, repoType, revision });
    const parsed = parseRevision(url, answer);
    this.siblings.set(`${repoType}:${repo}@${parsed.commit}`, parsed.files);
    return parsed;
  }

  /**
   * Every file of a revision with its size and checksums (follows the listing's pages). A page
   * that links to one already fetched, or more than 10 000 pages, is a `HubResponseError`.
   *
   * Where this client has resolved the commit (with {@link revision}, as the caches do before
   * they list it), the listing is checked against the revision's file names: one that holds fewer
   * files ended early, which is an {@link IncompleteListingError} rather than a listing taken as
   * complete (browsers read `Link` only where the server exposes it). With `path`, only the
   * folder is listed, and checked against the revision's files in it.
   */
  async listFiles(
    repo: string,
    revision: string,
    options?: AbortSignal | ListFilesOptions,
  ): Promise<RepoFile[]> {
    const { repoType, signal } = repoOptions(options);
    const given = options && 'path' in options ? options.path : undefined;
    // A folder becomes part of the URL, where `..` parts would leave the repository's tree.
    const folder = given ? checkRepoFilePath(given, '') : '';
    const files: RepoFile[] = [];
    const fetched = new Set<string>();
    const encodedFolder = folder ? `/${folder.split('/').map(encodeURIComponent).join('/')}` : '';
    let url: string | undefined =
      `${this.apiUrl(repo, repoType)}/tree/${encodeURIComponent(revision)}${encodedFolder}?recursive=true`;
    while (url) {
      fetched.add(url);
      const { answer, headers } = await this.getJson(url, signal, { repo, repoType, revision });
      for (const file of parseTreePage(url, answer)) files.push(file);
      const next = nextPage(headers.get('link'), url);
      if (next && fetched.has(next))
        throw new HubResponseError(
          url,
          `a link to a page it already sent: the listing's pages loop back to ${next}`,
        );
      if (next && fetched.size >= MAX_PAGES)
        throw new HubResponseError(
          url,
          `a link to page ${MAX_PAGES + 1} of the listing (${next}); no repository has that many, so its pages are taken never to end`,
        );
      url = next;
    }
    const expected = this.siblings
      .get(`${repoType}:${repo}@${revision}`)
      ?.filter((path) => !folder || path.startsWith(`${folder}/`));
    // Fewer files, not other names: a listing whose entries are wrong is the path checks' to refuse.
    if (expected && files.length < expected.length) {
      const listed = new Set(files.map((f) => f.path));
      throw new IncompleteListingError(
        [...fetched].at(-1)!,
        repo,
        revision,
        expected.length,
        files.length,
        expected.filter((path) => !listed.has(path)),
        repoType,
      );
    }
    return files;
  }

  /** The branches of a repository (for Pythia: `main` and the 154 `step…` checkpoints). */
  async refs(repo: string, options?: AbortSignal | RepoOptions): Promise<RepoRef[]> {
    const { repoType, signal } = repoOptions(options);
    const url = `${this.apiUrl(repo, repoType)}/refs`;
    const { answer } = await this.getJson(url, signal, { repo, repoType });
    return parseRefs(url, answer);
  }

  /**
   * Bytes `[offset, offset + length)` of a file: how only the needed tensors are fetched. A
   * broken or stalled read resumes from the last byte received.
   */
  async readRange(
    repo: string,
    revision: string,
    path: string,
    offset: number,
    length: number,
    options?: AbortSignal | RepoOptions,
  ): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0);
    const { repoType, signal } = repoOptions(options);
    const url = this.fileUrl(repo, revision, path, { repoType });
    const out = new Uint8Array(length);
    const budget = this.budget();
    let got = 0;
    while (got < length) {
      const from = offset + got;
      const range = `bytes=${from}-${offset + length - 1}`;
      const { response, exchange } = await this.request(
        url,
        { Range: range },
        signal,
        { repo, repoType, revision, path },
        budget,
        this.content,
      );
      const before = got;
      try {
        if (response.status === 416)
          throw new HubResponseError(
            url,
            `416 Range Not Satisfiable to ${range}: the file is shorter than its listing says`,
          );
        const contentRange = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '');
        if (response.status === 206 && contentRange && Number(contentRange[1]) !== from)
          throw new HubResponseError(
            url,
            `bytes starting at ${contentRange[1]} when asked for ${range}`,
          );
        // A server that ignores Range sends the whole file: skip to the part asked for.
        let skip = response.status === 206 ? 0 : from;
        for await (const chunk of exchange.chunks(response, this.content.ms)) {
          const part = chunk.subarray(Math.min(skip, chunk.length), skip + length - got);
          skip = Math.max(0, skip - chunk.length);
          out.set(part, got);
          got += part.length;
          if (got === length) break;
        }
        if (got < length)
          throw new Error(
            `the connection closed after ${got - before} of ${length - before} bytes`,
          );
      } catch (error) {
        exchange.close();
        if (got > before) budget.progressed();
        await this.retryOrThrow(error, url, budget, this.content, signal);
      } finally {
        exchange.close();
      }
    }
    return out;
  }

  /**
   * Downloads a file into `target`, resuming from `target.length` with a Range request, and again
   * from wherever the connection breaks or stalls. Failures count against the retries only while
   * no new bytes arrive; an error of the target itself (a full disk) is rethrown at once.
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
      /** Default `'model'`. */
      repoType?: RepoType;
    } = {},
  ): Promise<void> {
    const { size, onProgress, signal } = options;
    const repoType = checkRepoType(options.repoType);
    const url = this.fileUrl(repo, revision, path, { repoType });
    const budget = this.budget();
    // The most the target has held: an attempt that goes past it made progress.
    let reached = target.length;
    for (;;) {
      if (size !== undefined && target.length > size) await local(() => target.reset());
      if (size !== undefined && target.length === size) return;
      const start = target.length;
      const headers: Record<string, string> = start > 0 ? { Range: `bytes=${start}-` } : {};
      const { response, exchange } = await this.request(
        url,
        headers,
        signal,
        { repo, repoType, revision, path },
        budget,
        this.content,
      );
      try {
        if (response.status === 416) {
          // Asked for bytes past the end: fine when the target already holds the whole file.
          const whole = /^bytes \*\/(\d+)$/.exec(response.headers.get('content-range') ?? '');
          if (size === undefined && start > 0 && Number(whole?.[1]) === start) return;
          throw new HubResponseError(
            url,
            `416 Range Not Satisfiable to bytes=${start}-: the file is shorter than ${size ?? start} bytes`,
          );
        }
        if (start > 0 && response.status !== 206) await local(() => target.reset());
        const total = size ?? (Number(response.headers.get('content-length')) || 0) + target.length;
        if (!response.body) throw new Error('the response has no body');
        for await (const chunk of exchange.chunks(response, this.content.ms)) {
          await local(async () => {
            await target.append(chunk);
            onProgress?.({ path, loaded: target.length, total });
          });
        }
        if (size === undefined || target.length === size) return;
        if (target.length > size)
          throw new HubResponseError(
            url,
            `${target.length} bytes of a file its listing says has ${size}`,
          );
        throw new Error(`the connection closed after ${target.length} of ${size} bytes`);
      } catch (error) {
        exchange.close();
        if (target.length > reached) {
          reached = target.length;
          budget.progressed();
        }
        await this.retryOrThrow(error, url, budget, this.content, signal);
      } finally {
        exchange.close();
      }
    }
  }

  private budget(): RetryBudget {
    return new RetryBudget(this.retries, this.timeoutRetries);
  }

  /** An API answer as JSON (not yet checked), with the headers (a listing's `Link`). */
  private async getJson(
    url: string,
    signal: AbortSignal | undefined,
    context: Context,
  ): Promise<{ answer: unknown; headers: Headers }> {
    const budget = this.budget();
    for (;;) {
      const { response, exchange } = await this.request(url, {}, signal, context, budget, this.api);
      try {
        const body = await exchange.bytes(response, this.api.ms);
        const answer = parseJson(url, body, response.headers.get('content-type'));
        return { answer, headers: response.headers };
      } catch (error) {
        exchange.close();
        await this.retryOrThrow(error, url, budget, this.api, signal);
      } finally {
        exchange.close();
      }
    }
  }

  /**
   * Decides after a failed attempt: the caller's abort, a local failure and a typed error end at
   * once; a network error or timeout waits its backoff when the budget allows another attempt,
   * and otherwise becomes the final HubNetworkError or HubTimeoutError.
   */
  private async retryOrThrow(
    error: unknown,
    url: string,
    budget: RetryBudget,
    patience: Patience,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    if (error instanceof LocalFailure) throw error.error;
    if (error instanceof CheckpointHubError) throw error;
    const timeout = error instanceof SilenceError;
    if (!budget.fail(timeout)) {
      if (error instanceof SilenceError)
        throw new HubTimeoutError(
          url,
          budget.attempts,
          error.ms / 1000,
          error.waitingFor,
          patience.variable,
        );
      throw new HubNetworkError(url, budget.attempts, describe(error));
    }
    await sleep(backoff(this.retryDelayMs, budget.streak), signal);
  }

  /**
   * GET with retries and redirects followed by hand, so the token goes to the endpoint's origin
   * only (a download is redirected to a CDN host that must not see it). Resolves with the
   * response and its exchange, whose body the caller reads and then closes.
   */
  private async request(
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    context: Context,
    budget: RetryBudget,
    patience: Patience,
  ): Promise<{ response: Response; exchange: TimedExchange }> {
    const endpointOrigin = new URL(this.endpoint).origin;
    for (;;) {
      budget.attempts++;
      const exchange = new TimedExchange(signal);
      let response: Response;
      try {
        response = await exchange.within(
          this.follow(url, headers, exchange.signal, endpointOrigin),
          patience.ms,
          'answer',
        );
      } catch (error) {
        exchange.close();
        await this.retryOrThrow(error, url, budget, patience, signal);
        continue;
      }
      if (response.ok || response.status === 416) return { response, exchange };
      const retryable = response.status >= 500 || response.status === 429;
      if (retryable && budget.fail(false)) {
        exchange.close();
        const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
        await sleep(retryAfter ?? backoff(this.retryDelayMs, budget.streak), signal);
        continue;
      }
      try {
        throw await this.failure(response, exchange, url, budget.attempts, context, patience);
      } finally {
        exchange.close();
      }
    }
  }

  private async follow(
    url: string,
    requestHeaders: Record<string, string>,
    signal: AbortSignal,
    endpointOrigin: string,
  ): Promise<Response> {
    let current = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const headers: Record<string, string> = { ...requestHeaders };
      if (this.token && new URL(current).origin === endpointOrigin)
        headers.Authorization = `Bearer ${this.token}`;
      const response = await this.fetchImpl(current, { headers, redirect: 'manual', signal });
      // Browsers hide redirects from scripts; there the browser itself drops the token on a
      // cross-origin redirect, as the Fetch standard requires.
      if (response.type === 'opaqueredirect')
        return this.fetchImpl(current, { headers, redirect: 'follow', signal });
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) return response;
      // Not awaited: a redirect's body is nothing we need, and cancelling it must not stall.
      response.body?.cancel().catch(() => {});
      current = new URL(location, current).toString();
    }
    throw new Error(`more than ${MAX_REDIRECTS} redirects`);
  }

  private async failure(
    response: Response,
    exchange: TimedExchange,
    url: string,
    attempts: number,
    context: Context,
    patience: Patience,
  ): Promise<Error> {
    const code = response.headers.get('x-error-code');
    const { repo, repoType, revision = 'main', path } = context;
    const { status } = response;
    if (status === 401 || status === 403) {
      // The Hub answers 401 for repos that do not exist too, unless a token was sent.
      return code === 'RepoNotFound'
        ? new RepoNotFoundError(repo, repoType)
        : new HubAccessError(repo, status, repoType);
    }
    if (status === 404) {
      if (code === 'RevisionNotFound') return new RevisionNotFoundError(repo, revision, repoType);
      if (code === 'EntryNotFound' && path)
        return new EntryNotFoundError(repo, revision, path, repoType);
      if (code === 'RepoNotFound' || !path) return new RepoNotFoundError(repo, repoType);
      return new EntryNotFoundError(repo, revision, path, repoType);
    }
    // Say what the server answered. A web page where the API should be means HF_ENDPOINT is not
    // a Hub; the same with 429 or 502–504 is a gateway's rate limit or outage page, and stays a
    // network error so that the caches fall back to what they hold.
    const page = new TextDecoder().decode(
      await exchange.head(response, patience.ms, ERROR_PAGE_BYTES),
    );
    const times = `after ${attempts} attempt${attempts === 1 ? '' : 's'}`;
    if (isHtml(page, response.headers.get('content-type')) && !TRANSIENT_STATUSES.has(status))
      return new HubResponseError(
        url,
        `HTTP ${status} with an HTML page (${quote(page)}) ${times}`,
      );
    return new HubNetworkError(
      url,
      attempts,
      `HTTP ${status}${page.trim() ? ` ${quote(page)}` : ''}`,
    );
  }
}

/** A network error's message, with the cause Node's `fetch` hides behind "fetch failed". */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const detail = cause?.message ?? cause?.code;
  return typeof detail === 'string' && detail && !error.message.includes(detail)
    ? `${error.message}: ${detail}`
    : error.message;
}
