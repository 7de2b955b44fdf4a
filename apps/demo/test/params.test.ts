import { describe, expect, it } from 'vitest';
import { DEFAULT_PARAMS, readParams } from '../src/params.js';

describe('query parameters', () => {
  it('default to pythia-70m-deduped at main on huggingface.co, prompt "Hello, I am", no autorun', () => {
    expect(readParams('')).toEqual({
      hub: 'https://huggingface.co',
      model: 'EleutherAI/pythia-70m-deduped',
      revision: 'main',
      prompt: 'Hello, I am',
      maxNewTokens: 32,
      temperature: 0.8,
      topK: 40,
      topP: 0.95,
      seed: 0,
      dtype: 'auto',
      gpuMemory: 4 * 2 ** 30,
      autorun: false,
      given: { hub: false, model: false, revision: false },
    });
  });

  it('override each default by name, sampling options named as in Hugging Face generate', () => {
    const query =
      '?hub=http%3A%2F%2F127.0.0.1%3A8080&model=EleutherAI/pythia-160m&revision=step1000' +
      '&prompt=Hi%20there&max_new_tokens=8&temperature=0&top_k=5&top_p=0.5&seed=7&dtype=q4' +
      '&gpu_memory=12&autorun=1';
    expect(readParams(query)).toEqual({
      hub: 'http://127.0.0.1:8080',
      model: 'EleutherAI/pythia-160m',
      revision: 'step1000',
      prompt: 'Hi there',
      maxNewTokens: 8,
      temperature: 0,
      topK: 5,
      topP: 0.5,
      seed: 7,
      dtype: 'q4',
      gpuMemory: 12 * 2 ** 30,
      autorun: true,
      given: { hub: true, model: true, revision: true },
    });
  });

  it('say which of hub, model and revision the URL gave, for advice on what to change', () => {
    expect(readParams('?model=EleutherAI/pythia-160m').given).toEqual({
      hub: false,
      model: true,
      revision: false,
    });
    // An empty value gives nothing: the default is used, and the visitor did not ask for it.
    expect(readParams('?revision=%20').given.revision).toBe(false);
  });

  it('keep an empty prompt but never an empty hub, model or revision', () => {
    expect(readParams('?prompt=&hub=&model=%20&revision=')).toEqual({
      ...DEFAULT_PARAMS,
      prompt: '',
    });
  });

  it('ignore numbers out of range or not numbers, so a mistyped link still works', () => {
    const query = '?max_new_tokens=0&temperature=-1&top_k=2.5&top_p=1.5&seed=abc&autorun=maybe';
    expect(readParams(query)).toEqual(DEFAULT_PARAMS);
    expect(readParams('?max_new_tokens=100000').maxNewTokens).toBe(DEFAULT_PARAMS.maxNewTokens);
    expect(readParams('?autorun=true').autorun).toBe(true);
  });

  it('take a dtype of auto, f16, q8 or q4 and GPU memory in GiB, else the defaults', () => {
    expect(readParams('?dtype=Q8').dtype).toBe('q8');
    expect(readParams('?dtype=f32').dtype).toBe('auto');
    expect(readParams('?dtype=int4&gpu_memory=0').dtype).toBe('auto');
    expect(readParams('?gpu_memory=1.5').gpuMemory).toBe(1.5 * 2 ** 30);
    for (const bad of ['0', '-2', 'lots', '2000']) {
      expect(readParams(`?gpu_memory=${bad}`).gpuMemory).toBe(DEFAULT_PARAMS.gpuMemory);
    }
  });
});
