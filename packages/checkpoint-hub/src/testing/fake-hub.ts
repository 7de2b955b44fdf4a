import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A commit: path → content. */
export type FakeCommit = Record<string, Uint8Array | string>;

/**
 * A repository: branches pointing at commits, and the commits' files. A dataset's branches may
 * include `refs/convert/parquet` (the Hub's Parquet conversion), served in its refs as a convert.
 */
export interface FakeRepo {
  branches: Record<string, string>;
  commits: Record<string, FakeCommit>;
  /** Answer 401 (gated) unless the right token is sent. */
  token?: string;
}

export interface RecordedRequest {
  origin: 'hub' | 'cdn';
  method: string;
  url: string;
  authorization: string | undefined;
  range: string | undefined;
}

/**
 * A fault to inject, consumed one by one as requests match. The kinds combine where that makes
 * sense (`status` with `body` answers an error page; `json` with `headers` rewrites a tree page).
 */
export interface Fault {
  /** Substring of the request URL. */
  match: string;
  /** Answer with this status (and `Retry-After` when given) instead of the content. */
  status?: number;
  retryAfter?: string;
  /** Send this many bytes of the body, then cut the connection. */
  cutAfter?: number;
  /** Send the headers and this many bytes of the body, then go silent (the connection stays open). */
  stallAfter?: number;
  /** Accept the request and never answer it. */
  hang?: boolean;
  /** Answer with this body instead of the content (status 200 unless `status` says otherwise). */
  body?: string | Uint8Array;
  /** Rewrite the JSON answer of an API call (revision, tree page, refs) before it is sent. */
  json?: (answer: unknown) => unknown;
  /** Headers added to (or replacing those of) the answer; a function sees the request URL. */
  headers?: Record<string, string> | ((url: string) => Record<string, string>);
  times: number;
}

/** Options of {@link FakeHub} beside its model repositories. */
export interface FakeHubOptions {
  /** Dataset repositories, served at `/api/datasets/…` and `/datasets/{repo}/resolve/…`. */
  datasets?: Record<string, FakeRepo>;
}

type FakeRepoType = 'model' | 'dataset';

const LFS = (path: string) => /\.(bin|safetensors|parquet)$/.test(path);
const bytesOf = (content: Uint8Array | string) =>
  typeof content === 'string' ? new TextEncoder().encode(content) : content;

/** Git's blob id: sha1 of "blob {size}\0" + content. */
export function gitBlobId(content: Uint8Array): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

export const sha256Hex = (content: Uint8Array) =>
  createHash('sha256').update(content).digest('hex');

/**
 * A local stand-in for the Hugging Face Hub, for tests (Node only): the API endpoints pythiajs
 * uses (revision, paginated tree, of a folder too, refs) for models and datasets (given as
 * `{ datasets }`, with their `refs/convert/parquet` branch), `resolve` with 302s for LFS files
 * (weights, Parquet) to a second origin
 * (the "CDN", which must never see the token), Range requests, CORS for browser tests, and
 * injectable faults (status codes, Retry-After, connections cut mid-body or stalled, requests never
 * answered, error pages, rewritten API answers and headers).
 *
 * @example
 * ```ts
 * import { FakeHub } from '@pythiajs/checkpoint-hub/testing';
 * const hub = await new FakeHub({
 *   'EleutherAI/pythia-tiny': { branches: { main: 'a'.repeat(40) }, commits: { ['a'.repeat(40)]: { 'config.json': '{}' } } },
 * }).start();
 * process.env.HF_ENDPOINT = hub.hubOrigin;
 * ```
 *
 * A dataset with its Parquet conversion:
 * ```ts
 * const hub = await new FakeHub({}, {
 *   datasets: {
 *     'EleutherAI/lambada_openai': {
 *       branches: { main: 'b'.repeat(40), 'refs/convert/parquet': 'c'.repeat(40) },
 *       commits: { ['b'.repeat(40)]: { 'README.md': '# lambada' },
 *                  ['c'.repeat(40)]: { 'default/test/0000.parquet': parquetBytes } },
 *     },
 *   },
 * }).start();
 * ```
 */
export class FakeHub {
  readonly requests: RecordedRequest[] = [];
  readonly faults: Fault[] = [];
  /** Entries per tree page, to exercise pagination. */
  pageSize = 3;
  /** Paths served with their first byte flipped while listed with their true checksums. */
  readonly tampered = new Set<string>();
  private hub!: Server;
  private readonly open = { hub: new Set<ServerResponse>(), cdn: new Set<ServerResponse>() };
  private cdn!: Server;
  hubOrigin = '';
  cdnOrigin = '';

  /** The dataset repositories, by id. */
  readonly datasets: Record<string, FakeRepo>;

  constructor(
    readonly repos: Record<string, FakeRepo>,
    options: FakeHubOptions = {},
  ) {
    this.datasets = options.datasets ?? {};
  }

  async start(): Promise<this> {
    this.hub = createServer((req, res) => this.handle('hub', req, res));
    this.cdn = createServer((req, res) => this.handle('cdn', req, res));
    this.hubOrigin = await listen(this.hub);
    this.cdnOrigin = await listen(this.cdn);
    return this;
  }

  async stop(): Promise<void> {
    this.hub.closeAllConnections();
    this.cdn.closeAllConnections();
    await Promise.all([
      new Promise((r) => this.hub.close(r)),
      new Promise((r) => this.cdn.close(r)),
    ]);
  }

  /**
   * Answers still open at each origin: stalled or never answered, with the connection still up.
   * A client that gives up on them must close their connections, not leave them to the server.
   */
  openAnswers(): { hub: number; cdn: number } {
    return { hub: this.open.hub.size, cdn: this.open.cdn.size };
  }

  private fault(url: string): Fault | undefined {
    const fault = this.faults.find((f) => f.times > 0 && url.includes(f.match));
    if (fault) fault.times--;
    return fault;
  }

  private handle(origin: 'hub' | 'cdn', req: IncomingMessage, res: ServerResponse) {
    const url = req.url ?? '/';
    // The real Hub and its CDN allow cross-origin reads, as the browser tests need.
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader(
      'Access-Control-Expose-Headers',
      'Content-Range, Content-Length, ETag, Link, X-Error-Code, X-Repo-Commit, X-Linked-Etag, X-Linked-Size',
    );
    if (req.method === 'OPTIONS') {
      res
        .writeHead(204, {
          'Access-Control-Allow-Headers': 'Authorization, Range',
          'Access-Control-Allow-Methods': 'GET, HEAD',
        })
        .end();
      return;
    }
    this.requests.push({
      origin,
      method: req.method ?? 'GET',
      url,
      authorization: req.headers.authorization,
      range: req.headers.range,
    });
    // 'close' comes when the answer is complete or its connection is gone, whichever is first.
    this.open[origin].add(res);
    res.on('close', () => this.open[origin].delete(res));
    const fault = this.fault(url);
    if (fault?.hang) return;
    if (fault?.body !== undefined || fault?.status) {
      res.writeHead(fault.status ?? 200, {
        ...(fault.retryAfter ? { 'Retry-After': fault.retryAfter } : {}),
        ...extraHeaders(fault, url),
      });
      res.end(fault.body);
      return;
    }
    if (origin === 'cdn') return this.cdnFile(url, req, res, fault);
    const path = new URL(url, 'http://x').pathname;
    // The revision is one part of the path: `refs/convert/parquet` arrives as `refs%2Fconvert%2Fparquet`.
    let m =
      /^\/api\/(models|datasets)\/([^/]+\/[^/]+)\/(revision|tree)\/([^/?]+)(?:\/([^?]+))?$/.exec(
        path,
      );
    if (m && (m[3] === 'tree' || m[5] === undefined)) {
      const type = m[1] === 'datasets' ? 'dataset' : 'model';
      const folder = m[5] === undefined ? '' : decodeURIComponent(m[5]);
      return this.api(type, m[2]!, m[3]!, decodeURIComponent(m[4]!), folder, url, req, res, fault);
    }
    m = /^\/api\/(models|datasets)\/([^/]+\/[^/]+)\/refs$/.exec(path);
    if (m) {
      const repo = this.repo(m[1] === 'datasets' ? 'dataset' : 'model', m[2]!, req, res);
      if (!repo) return;
      const all = Object.entries(repo.branches);
      const branches = all
        .filter(([name]) => !name.startsWith('refs/'))
        .map(([name, commit]) => ({ name, ref: `refs/heads/${name}`, targetCommit: commit }));
      const converts = all
        .filter(([name]) => name.startsWith('refs/convert/'))
        .map(([name, commit]) => ({
          name: name.slice('refs/convert/'.length),
          ref: name,
          targetCommit: commit,
        }));
      return json(res, { branches, tags: [], converts }, {}, url, fault);
    }
    m = /^\/(datasets\/)?([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (m)
      return this.resolve(
        m[1] ? 'dataset' : 'model',
        m[2]!,
        decodeURIComponent(m[3]!),
        decodeURIComponent(m[4]!),
        req,
        res,
        fault,
      );
    res.writeHead(404).end();
  }

  private repo(
    type: FakeRepoType,
    name: string,
    req: IncomingMessage,
    res: ServerResponse,
  ): FakeRepo | undefined {
    const repo = (type === 'dataset' ? this.datasets : this.repos)[name];
    if (!repo) {
      res.writeHead(401, { 'X-Error-Code': 'RepoNotFound' }).end();
      return undefined;
    }
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) {
      res.writeHead(401, { 'X-Error-Code': 'GatedRepo' }).end();
      return undefined;
    }
    return repo;
  }

  private commit(
    repo: FakeRepo,
    revision: string,
    res: ServerResponse,
  ): [string, FakeCommit] | undefined {
    const sha = repo.branches[revision] ?? (repo.commits[revision] ? revision : undefined);
    if (!sha || !repo.commits[sha]) {
      res.writeHead(404, { 'X-Error-Code': 'RevisionNotFound' }).end();
      return undefined;
    }
    return [sha, repo.commits[sha]!];
  }

  private api(
    type: FakeRepoType,
    name: string,
    kind: string,
    revision: string,
    folder: string,
    url: string,
    req: IncomingMessage,
    res: ServerResponse,
    fault?: Fault,
  ) {
    const repo = this.repo(type, name, req, res);
    if (!repo) return;
    const found = this.commit(repo, revision, res);
    if (!found) return;
    const [sha, all] = found;
    const files = folder
      ? Object.fromEntries(Object.entries(all).filter(([path]) => path.startsWith(`${folder}/`)))
      : all;
    if (folder && Object.keys(files).length === 0) {
      res.writeHead(404, { 'X-Error-Code': 'EntryNotFound' }).end();
      return;
    }
    if (kind === 'revision') {
      return json(
        res,
        { id: name, sha, siblings: Object.keys(files).map((rfilename) => ({ rfilename })) },
        {},
        url,
        fault,
      );
    }
    const entries = Object.entries(files).map(([path, content]) => {
      const bytes = bytesOf(content);
      return {
        type: 'file',
        path,
        size: bytes.length,
        oid: gitBlobId(bytes),
        ...(LFS(path)
          ? { lfs: { oid: sha256Hex(bytes), size: bytes.length, pointerSize: 134 } }
          : {}),
      };
    });
    const cursor = Number(new URL(url, 'http://x').searchParams.get('cursor') ?? 0);
    const page = entries.slice(cursor, cursor + this.pageSize);
    const headers: Record<string, string> = {};
    if (cursor + this.pageSize < entries.length) {
      const at = folder ? `/${folder.split('/').map(encodeURIComponent).join('/')}` : '';
      headers.Link = `<${this.hubOrigin}/api/${type}s/${name}/tree/${encodeURIComponent(revision)}${at}?recursive=true&cursor=${cursor + this.pageSize}>; rel="next"`;
    }
    return json(res, page, headers, url, fault);
  }

  private resolve(
    type: FakeRepoType,
    name: string,
    revision: string,
    path: string,
    req: IncomingMessage,
    res: ServerResponse,
    fault?: Fault,
  ) {
    const repo = this.repo(type, name, req, res);
    if (!repo) return;
    const found = this.commit(repo, revision, res);
    if (!found) return;
    const [sha, files] = found;
    const content = files[path];
    if (content === undefined) {
      res.writeHead(404, { 'X-Error-Code': 'EntryNotFound' }).end();
      return;
    }
    const bytes = this.served(path, bytesOf(content));
    if (LFS(path)) {
      const digest = sha256Hex(bytesOf(content));
      res.writeHead(302, {
        Location: `${this.cdnOrigin}/lfs/${digest}?type=${type}&name=${encodeURIComponent(name)}&path=${encodeURIComponent(path)}&commit=${sha}`,
        'X-Repo-Commit': sha,
        'X-Linked-Etag': `"${digest}"`,
        'X-Linked-Size': String(bytes.length),
      });
      res.end();
      return;
    }
    send(
      res,
      req,
      bytes,
      { 'X-Repo-Commit': sha, ETag: `"${gitBlobId(bytesOf(content))}"` },
      fault,
    );
  }

  private cdnFile(url: string, req: IncomingMessage, res: ServerResponse, fault?: Fault) {
    const params = new URL(url, 'http://x').searchParams;
    const repos = params.get('type') === 'dataset' ? this.datasets : this.repos;
    const repo = repos[params.get('name') ?? ''];
    const content = repo?.commits[params.get('commit') ?? '']?.[params.get('path') ?? ''];
    if (content === undefined) {
      res.writeHead(404).end();
      return;
    }
    send(res, req, this.served(params.get('path') ?? '', bytesOf(content)), {}, fault);
  }

  private served(path: string, bytes: Uint8Array): Uint8Array {
    if (!this.tampered.has(path)) return bytes;
    const copy = bytes.slice();
    copy[0] = (copy[0] ?? 0) ^ 0xff;
    return copy;
  }
}

function send(
  res: ServerResponse,
  req: IncomingMessage,
  bytes: Uint8Array,
  headers: Record<string, string>,
  fault?: Fault,
) {
  let body = bytes;
  let status = 200;
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (range) {
    const start = Number(range[1]);
    const end = range[2] ? Number(range[2]) : bytes.length - 1;
    if (start >= bytes.length) {
      res.writeHead(416, { 'Content-Range': `bytes */${bytes.length}` }).end();
      return;
    }
    body = bytes.subarray(start, end + 1);
    status = 206;
    headers['Content-Range'] = `bytes ${start}-${start + body.length - 1}/${bytes.length}`;
  }
  res.writeHead(status, {
    ...headers,
    'Content-Length': String(body.length),
    'Accept-Ranges': 'bytes',
    ...extraHeaders(fault, req.url ?? '/'),
  });
  if (fault?.cutAfter !== undefined) {
    res.write(body.subarray(0, fault.cutAfter), () => res.destroy());
    return;
  }
  if (fault?.stallAfter !== undefined) {
    // Headers and a first part go out; the rest never comes, and the socket stays open.
    res.write(body.subarray(0, fault.stallAfter));
    return;
  }
  res.end(body);
}

function extraHeaders(fault: Fault | undefined, url: string): Record<string, string> {
  if (!fault?.headers) return {};
  return typeof fault.headers === 'function' ? fault.headers(url) : fault.headers;
}

function json(
  res: ServerResponse,
  body: unknown,
  headers: Record<string, string>,
  url: string,
  fault?: Fault,
) {
  const answer = fault?.json ? fault.json(body) : body;
  const text = JSON.stringify(answer);
  res.writeHead(200, {
    'Content-Type': 'application/json',
    ...headers,
    ...extraHeaders(fault, url),
  });
  if (fault?.stallAfter !== undefined) {
    res.write(text.slice(0, fault.stallAfter));
    return;
  }
  res.end(text);
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}
