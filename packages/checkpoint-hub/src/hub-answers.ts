import { HubResponseError } from './errors.js';
import type { RepoFile } from './hub-client.js';

/*
 * The Hub API's answers, parsed and checked for the types and shapes HubClient relies on. What
 * `HF_ENDPOINT` points at may be a mirror, a proxy or a wrong address answering an HTML page:
 * each departure becomes a HubResponseError that names the URL and what was expected, instead
 * of a parser's message or a `String(undefined)` that surfaces far away.
 */

/** How much of a wrong answer an error quotes. */
const QUOTED_CHARS = 60;

/** Parses an API answer's body as JSON, or says what it is instead. */
export function parseJson(url: string, body: Uint8Array, contentType: string | null): unknown {
  const text = new TextDecoder().decode(body);
  try {
    return JSON.parse(text);
  } catch {
    throw new HubResponseError(url, `${describeNonJson(text, contentType)} instead of JSON`);
  }
}

/**
 * What a body that is not the expected JSON looks like, for an error message: an HTML page (a
 * proxy's or a website's), nothing at all, or the first characters of whatever it is.
 */
export function describeNonJson(text: string, contentType: string | null): string {
  if (text.trim() === '') return 'an empty body';
  return `${isHtml(text, contentType) ? 'an HTML page' : 'something that is not JSON'} (${quote(text)})`;
}

/** Whether a body is a web page: a proxy's error page, or a website where an API was expected. */
export function isHtml(text: string, contentType: string | null): boolean {
  return text.trimStart().startsWith('<') || /\btext\/html\b/i.test(contentType ?? '');
}

/** The first characters of a body, quoted, for a message. */
export function quote(text: string): string {
  const start = text.trim();
  return JSON.stringify(start.length > QUOTED_CHARS ? `${start.slice(0, QUOTED_CHARS)}…` : start);
}

/** `GET /api/models/{repo}/revision/{revision}`: the commit and the file names. */
export function parseRevision(url: string, answer: unknown): { commit: string; files: string[] } {
  const body = object(url, answer, 'a revision answer');
  if (typeof body.sha !== 'string')
    throw new HubResponseError(url, `a revision without a commit sha (sha: ${shown(body.sha)})`);
  const siblings = body.siblings ?? [];
  if (!Array.isArray(siblings))
    throw new HubResponseError(url, `siblings that are not a list (${shown(siblings)})`);
  const files = siblings.map((sibling: unknown, i) => {
    const name = isObject(sibling) ? sibling.rfilename : undefined;
    if (typeof name !== 'string')
      throw new HubResponseError(
        url,
        `siblings[${i}] without a string rfilename (${shown(sibling)})`,
      );
    return name;
  });
  return { commit: body.sha, files };
}

/** One page of `GET /api/models/{repo}/tree/{revision}?recursive=true`: its files (not folders). */
export function parseTreePage(url: string, answer: unknown): RepoFile[] {
  if (!Array.isArray(answer))
    throw new HubResponseError(url, `a tree page that is not a list of entries (${shown(answer)})`);
  const files: RepoFile[] = [];
  answer.forEach((entry: unknown, i) => {
    const at = `tree entry ${i}`;
    if (!isObject(entry)) throw new HubResponseError(url, `a ${at} that is ${shown(entry)}`);
    if (entry.type !== 'file') return;
    const { path, oid, size, lfs } = entry;
    if (typeof path !== 'string')
      throw new HubResponseError(url, `a ${at} whose path is ${shown(path)}, not a string`);
    if (typeof oid !== 'string')
      throw new HubResponseError(url, `${path} with a git oid of ${shown(oid)}, not a string`);
    if (!isSize(size))
      throw new HubResponseError(url, `${path} with a size of ${shown(size)}, not a byte count`);
    if (lfs === undefined || lfs === null) {
      files.push({ path, size, oid });
      return;
    }
    if (!isObject(lfs) || typeof lfs.oid !== 'string' || !isSize(lfs.size))
      throw new HubResponseError(
        url,
        `${path} with LFS details ${shown(lfs)}, not a string oid and a byte count size`,
      );
    files.push({ path, size, oid, lfs: { sha256: lfs.oid, size: lfs.size } });
  });
  return files;
}

/** `GET /api/models/{repo}/refs`: the branches and their commits. */
export function parseRefs(url: string, answer: unknown): Array<{ name: string; commit: string }> {
  const body = object(url, answer, 'a refs answer');
  if (!Array.isArray(body.branches))
    throw new HubResponseError(url, `branches that are not a list (${shown(body.branches)})`);
  return body.branches.map((branch: unknown, i) => {
    if (
      !isObject(branch) ||
      typeof branch.name !== 'string' ||
      typeof branch.targetCommit !== 'string'
    )
      throw new HubResponseError(
        url,
        `branches[${i}] without a string name and targetCommit (${shown(branch)})`,
      );
    return { name: branch.name, commit: branch.targetCommit };
  });
}

/** The next page of a listing, from its `Link: <…>; rel="next"` header. */
export function nextPage(link: string | null, base: string): string | undefined {
  if (!link) return undefined;
  const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  return match?.[1] ? new URL(match[1], base).toString() : undefined;
}

function object(url: string, answer: unknown, what: string): Record<string, unknown> {
  if (!isObject(answer))
    throw new HubResponseError(url, `${what} that is ${shown(answer)}, not an object`);
  return answer;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** A short rendering of a wrong value for a message. */
function shown(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > QUOTED_CHARS ? `${text.slice(0, QUOTED_CHARS)}…` : text;
}
