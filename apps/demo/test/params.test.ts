import { describe, expect, it } from 'vitest';
import { DEFAULT_PARAMS, readParams } from '../src/params.js';

describe('query parameters', () => {
  it('default to pythia-70m-deduped at main on huggingface.co, prompt "Hello, I am"', () => {
    expect(readParams('')).toEqual({
      hub: 'https://huggingface.co',
      model: 'EleutherAI/pythia-70m-deduped',
      revision: 'main',
      prompt: 'Hello, I am',
    });
  });

  it('override each default by name', () => {
    const query =
      '?hub=http%3A%2F%2F127.0.0.1%3A8080&model=EleutherAI/pythia-160m' +
      '&revision=step1000&prompt=Hi%20there';
    expect(readParams(query)).toEqual({
      hub: 'http://127.0.0.1:8080',
      model: 'EleutherAI/pythia-160m',
      revision: 'step1000',
      prompt: 'Hi there',
    });
  });

  it('keep an empty prompt but never an empty hub, model or revision', () => {
    expect(readParams('?prompt=&hub=&model=%20&revision=')).toEqual({
      ...DEFAULT_PARAMS,
      prompt: '',
    });
  });
});
