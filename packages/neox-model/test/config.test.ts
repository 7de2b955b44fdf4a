import { readFileSync } from 'node:fs';
import { PYTHIA_MODELS } from '@pythiajs/checkpoint-hub';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError, parseNeoXConfig, pythiaConfig } from '../src/index.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../../../fixtures/${name}/config.json`, import.meta.url), 'utf8');

describe('parseNeoXConfig', () => {
  it('reads the tiny f16 checkpoint: 2 heads of 16 dims, 4 of them rotary, parallel residual', () => {
    expect(parseNeoXConfig(fixture('tiny-neox-f16'))).toEqual({
      hiddenSize: 32,
      numLayers: 2,
      numHeads: 2,
      intermediateSize: 128,
      vocabSize: 50304,
      maxPositions: 2048,
      layerNormEps: 1e-5,
      parallelResidual: true,
      activation: 'gelu',
      rotaryPct: 0.25,
      rotaryBase: 10000,
      tieWordEmbeddings: false,
      headDim: 16,
      rotaryDims: 4,
      torchDtype: 'float16',
    });
  });

  it('reads the sequential-residual sharded checkpoint', () => {
    const config = parseNeoXConfig(fixture('tiny-neox-f32-sharded'));
    expect(config).toMatchObject({
      hiddenSize: 96,
      numHeads: 6,
      numLayers: 3,
      parallelResidual: false,
      vocabSize: 2048,
    });
  });

  it('derives head and rotary dims for every Pythia size (rotary_pct 0.25)', () => {
    const dims = PYTHIA_MODELS.filter((m) => !m.deduped).map((m) => {
      const c = pythiaConfig(m.name);
      return [m.size, c.headDim, c.rotaryDims];
    });
    expect(dims).toEqual([
      ['14m', 32, 8],
      ['31m', 32, 8],
      ['70m', 64, 16],
      ['160m', 64, 16],
      ['410m', 64, 16],
      ['1b', 256, 64],
      ['1.4b', 128, 32],
      ['2.8b', 80, 20],
      ['6.9b', 128, 32],
      ['12b', 128, 32],
    ]);
  });

  it('accepts the newer names partial_rotary_factor and rope_theta', () => {
    const config = parseNeoXConfig({
      ...JSON.parse(fixture('tiny-neox-bin')),
      rotary_pct: undefined,
      rotary_emb_base: undefined,
      partial_rotary_factor: 0.5,
      rope_theta: 500,
    });
    expect(config.rotaryDims).toBe(8);
    expect(config.rotaryBase).toBe(500);
  });

  it('names the field that is wrong', () => {
    const base = JSON.parse(fixture('tiny-neox-bin'));
    expect(() => parseNeoXConfig({ ...base, hidden_size: undefined })).toThrow(InvalidConfigError);
    expect(() => parseNeoXConfig({ ...base, hidden_size: undefined })).toThrow(
      /"hidden_size" must be a positive integer/,
    );
    expect(() => parseNeoXConfig({ ...base, num_attention_heads: 5 })).toThrow(
      /not divisible by num_attention_heads 5/,
    );
    expect(() => parseNeoXConfig({ ...base, hidden_act: 'relu' })).toThrow(/hidden_act "relu"/);
    expect(() => parseNeoXConfig({ ...base, model_type: 'llama' })).toThrow(/not "gpt_neox"/);
    expect(() => parseNeoXConfig('{')).toThrow(/not valid JSON/);
  });
});
