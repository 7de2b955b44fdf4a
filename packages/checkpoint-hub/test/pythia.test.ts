import { describe, expect, it } from 'vitest';
import {
  InvalidModelRefError,
  PYTHIA_MODELS,
  parseModelRef,
  pythiaCheckpoints,
  pythiaModel,
} from '../src/index.js';

describe('the Pythia suite', () => {
  it('has 18 models: 10 sizes, 8 with a deduped twin', () => {
    expect(PYTHIA_MODELS).toHaveLength(18);
    expect(PYTHIA_MODELS.filter((m) => m.deduped).map((m) => m.size)).toEqual([
      '70m',
      '160m',
      '410m',
      '1b',
      '1.4b',
      '2.8b',
      '6.9b',
      '12b',
    ]);
  });

  it('knows each architecture from the training configs', () => {
    expect(pythiaModel('EleutherAI/pythia-410m')).toMatchObject({
      numLayers: 24,
      hiddenSize: 1024,
      numHeads: 16,
    });
    expect(pythiaModel('EleutherAI/pythia-12b-deduped')).toMatchObject({
      numLayers: 36,
      hiddenSize: 5120,
      vocabSize: 50688,
    });
    expect(pythiaModel('EleutherAI/pythia-6.9b')?.vocabSize).toBe(50432);
    expect(pythiaModel('someone/pythia-70m')).toBeUndefined();
  });

  it('publishes 154 checkpoints: step0, 10 log-spaced early steps, then every 1000 to 143000', () => {
    const checkpoints = pythiaCheckpoints();
    expect(checkpoints).toHaveLength(154);
    expect(checkpoints.slice(0, 12)).toEqual([
      'step0',
      'step1',
      'step2',
      'step4',
      'step8',
      'step16',
      'step32',
      'step64',
      'step128',
      'step256',
      'step512',
      'step1000',
    ]);
    expect(checkpoints.at(-1)).toBe('step143000');
    expect(new Set(checkpoints).size).toBe(154);
  });
});

describe('parseModelRef', () => {
  it('reads the name@revision shorthand of the suite', () => {
    expect(parseModelRef('pythia-70m-deduped@step3000')).toEqual({
      repo: 'EleutherAI/pythia-70m-deduped',
      revision: 'step3000',
    });
    expect(parseModelRef('pythia-1.4b')).toEqual({
      repo: 'EleutherAI/pythia-1.4b',
      revision: 'main',
    });
  });

  it('reads any owner/name repo with a branch or commit', () => {
    expect(parseModelRef('EleutherAI/pythia-160m@step143000')).toEqual({
      repo: 'EleutherAI/pythia-160m',
      revision: 'step143000',
    });
    expect(
      parseModelRef('me/my-neox@0123456789abcdef0123456789abcdef01234567').revision,
    ).toHaveLength(40);
  });

  it('rejects what is not a model reference, saying what a reference looks like', () => {
    expect(() => parseModelRef('pythia-69m')).toThrow(InvalidModelRefError);
    expect(() => parseModelRef('pythia-69m')).toThrow(/not a Pythia model/);
    expect(() => parseModelRef('pythia-70m@')).toThrow(/revision after "@" is empty/);
    expect(() => parseModelRef('a/b/c')).toThrow(/owner\/name/);
    expect(() => parseModelRef('')).toThrow(InvalidModelRefError);
  });
});
