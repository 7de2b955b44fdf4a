import { describe, expect, it } from 'vitest';
import { fetchHubText, HubFetchError, type HubRepo, resolveUrl } from '../src/hub.js';

const repo: HubRepo = {
  hub: 'https://huggingface.co',
  model: 'EleutherAI/pythia-70m-deduped',
  revision: 'main',
};

describe('resolveUrl', () => {
  it('follows the Hub layout {hub}/{model}/resolve/{revision}/{file}', () => {
    expect(resolveUrl(repo, 'tokenizer.json')).toBe(
      'https://huggingface.co/EleutherAI/pythia-70m-deduped/resolve/main/tokenizer.json',
    );
  });

  it('keeps a hub path prefix and drops its trailing slash', () => {
    expect(resolveUrl({ ...repo, hub: 'http://localhost:8080/mirror/' }, 'tokenizer.json')).toBe(
      'http://localhost:8080/mirror/EleutherAI/pythia-70m-deduped/resolve/main/tokenizer.json',
    );
  });

  it('escapes a revision such as refs/pr/1 as one path segment', () => {
    expect(resolveUrl({ ...repo, revision: 'refs/pr/1' }, 'config.json')).toBe(
      'https://huggingface.co/EleutherAI/pythia-70m-deduped/resolve/refs%2Fpr%2F1/config.json',
    );
  });

  it('rejects a hub that is not an http(s) URL, saying how to write one', () => {
    expect(() => resolveUrl({ ...repo, hub: 'localhost:8080' }, 'x')).toThrow(HubFetchError);
    expect(() => resolveUrl({ ...repo, hub: 'huggingface.co' }, 'x')).toThrow(
      /https:\/\/huggingface\.co/,
    );
  });
});

describe('fetchHubText', () => {
  it('returns the body of the resolved URL', async () => {
    const requested: string[] = [];
    const fakeFetch = async (input: RequestInfo | URL): Promise<Response> => {
      requested.push(String(input));
      return new Response('{"ok":true}');
    };
    await expect(fetchHubText(repo, 'tokenizer.json', fakeFetch)).resolves.toBe('{"ok":true}');
    expect(requested).toEqual([resolveUrl(repo, 'tokenizer.json')]);
  });

  it('explains a network failure and how to point ?hub= at a mirror', async () => {
    const offline = async (): Promise<Response> => {
      throw new TypeError('Failed to fetch');
    };
    const failure = fetchHubText(repo, 'tokenizer.json', offline);
    await expect(failure).rejects.toThrow(HubFetchError);
    await expect(failure).rejects.toThrow(
      /Failed to fetch.*network access to the Hugging Face Hub.*\?hub=/s,
    );
  });

  it('names the status and the model and revision to check on an HTTP error', async () => {
    const notFound = async (): Promise<Response> =>
      new Response('', { status: 404, statusText: 'Not Found' });
    await expect(fetchHubText(repo, 'tokenizer.json', notFound)).rejects.toThrow(
      /answered 404 Not Found.*"EleutherAI\/pythia-70m-deduped".*"main"/,
    );
  });
});
