import { describe, expect, it } from 'vitest';
import { explainError, hubProblem } from '../src/explain-error.js';

const where = { hub: 'http://127.0.0.1:9', repo: 'EleutherAI/pythia-70m', revision: 'step3000' };

describe('error messages', () => {
  it('say how to reach a Hub when the network fails, without Node-only advice', () => {
    const message = explainError(
      {
        name: 'HubNetworkError',
        message:
          'could not fetch http://127.0.0.1:9/api/models/x after 6 attempts (Failed to fetch); ' +
          'check the connection or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use only what is cached',
      },
      where,
    );
    expect(message).toMatch(/^Could not fetch http:\/\/127\.0\.0\.1:9\/api\/models\/x after 6/);
    expect(message).toContain('network access to the Hugging Face Hub (http://127.0.0.1:9)');
    expect(message).toContain('?hub=');
    expect(message).not.toContain('HF_');
  });

  it('name the Hub and the checkpoint when neither it nor the cache has it', () => {
    const message = explainError({ name: 'NotCachedError', message: 'x' }, where);
    expect(message).toMatch(
      /^The Hub \(http:\/\/127\.0\.0\.1:9\) did not answer, and EleutherAI\/pythia-70m@step3000 is not in this browser's cache\./,
    );
  });

  it('point at the query parameter to fix', () => {
    expect(
      explainError({ name: 'RepoNotFoundError', message: 'repository x not found' }, where),
    ).toContain('Check ?model=');
    expect(
      explainError({ name: 'RevisionNotFoundError', message: 'no revision step7' }, where),
    ).toContain('Check ?revision=');
  });

  it('say how to get WebGPU where it is missing', () => {
    const message = explainError(
      { name: 'WebGPUUnavailableError', message: 'navigator.gpu is missing' },
      where,
    );
    expect(message).toContain('chrome://flags/#enable-unsafe-webgpu');
  });

  it('pass other errors through as a sentence', () => {
    expect(explainError({ name: 'Error', message: 'load a model first' }, where)).toBe(
      'Load a model first.',
    );
  });

  it('reject a hub that is not an http(s) URL, saying how to write one', () => {
    expect(hubProblem('localhost:8080')).toContain('http');
    expect(hubProblem('huggingface.co')).toContain('not a URL');
    expect(hubProblem('https://huggingface.co')).toBeUndefined();
  });
});
