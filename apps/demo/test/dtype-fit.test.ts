import { parseNeoXConfig, pythiaConfig } from '@pythiajs/neox-model';
import { describe, expect, it } from 'vitest';
import {
  type AdapterLimits,
  autoDtype,
  DEFAULT_GPU_MEMORY,
  describeFit,
  dtypeNote,
  fitOf,
  fitProblem,
  formatEstimate,
  formatGiB,
  resolveChoice,
  suiteConfig,
} from '../src/dtype-fit.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
/** WebGPU's default limits: what an adapter that raises none of them gives. */
const DEFAULT_LIMITS: AdapterLimits = {
  maxStorageBufferBindingSize: 128 * MiB,
  maxBufferSize: 256 * MiB,
};
/** A discrete GPU's limits as Chrome reports them. */
const DISCRETE: AdapterLimits = {
  maxStorageBufferBindingSize: 2 * GiB - 4,
  maxBufferSize: 4 * GiB,
};

describe('what each Pythia size needs, from estimateMemory (tokens: 128, full 2048 KV cache)', () => {
  it('counts weights, KV cache and activations per dtype', () => {
    const size = (name: string) => pythiaConfig(name);
    const bytes = (name: string, dtype: 'f16' | 'q8' | 'q4') =>
      fitOf(size(name), dtype, DISCRETE, Number.POSITIVE_INFINITY).bytes;
    expect(bytes('pythia-70m', 'f16')).toBe(229_867_520);
    expect(bytes('pythia-70m', 'q4')).toBe(165_711_872);
    expect(bytes('pythia-1.4b', 'f16')).toBe(3_696_246_784);
    expect(bytes('pythia-1.4b', 'q8')).toBe(2_467_201_024);
    expect(bytes('pythia-2.8b', 'q8')).toBe(4_496_302_080);
    expect(bytes('pythia-2.8b', 'q4')).toBe(3_173_621_760);
    expect(bytes('pythia-6.9b', 'q4')).toBe(6_402_572_288);
    expect(bytes('pythia-12b', 'f16')).toBe(26_829_316_096);
    expect(bytes('pythia-12b', 'q4')).toBe(10_177_110_016);
  });
});

describe('auto: the widest dtype that fits', () => {
  it('with the default 4 GiB: f16 up to 1.4b, q4 for 2.8b, nothing for 6.9b and 12b', () => {
    const auto = (name: string) => autoDtype(pythiaConfig(name), DISCRETE, DEFAULT_GPU_MEMORY);
    expect(auto('pythia-70m')).toEqual({ dtype: 'f16', bytes: 229_867_520, fits: true });
    // 3.70 GB of 4.29 (4 GiB).
    expect(auto('pythia-1.4b')).toEqual({ dtype: 'f16', bytes: 3_696_246_784, fits: true });
    // f16 6.98 GB and q8 4.50 GB are over; q4 3.17 GB fits.
    expect(auto('pythia-2.8b')).toEqual({ dtype: 'q4', bytes: 3_173_621_760, fits: true });
    // Even q4 (6.40 GB) is over: auto would still try q4, the smallest, but says it does not fit.
    expect(auto('pythia-6.9b')).toEqual({
      dtype: 'q4',
      bytes: 6_402_572_288,
      fits: false,
      problem: 'memory',
    });
  });

  it('with more memory assumed (?gpu_memory=), wider dtypes and larger models', () => {
    const auto = (name: string, gib: number) =>
      autoDtype(pythiaConfig(name), DISCRETE, gib * GiB).dtype;
    expect(auto('pythia-2.8b', 8)).toBe('f16');
    expect(auto('pythia-6.9b', 8)).toBe('q4');
    expect(auto('pythia-6.9b', 12)).toBe('q8');
    expect(auto('pythia-12b', 16)).toBe('q8'); // 15.97 GB of 17.18
    expect(autoDtype(pythiaConfig('pythia-12b'), DISCRETE, 16 * GiB).fits).toBe(true);
  });

  it('needs no matrix in one binding (they are split by rows), but a layer of the KV cache', () => {
    // pythia-1.4b's 206 MB unembedding is over the default 128 MiB binding: split, so it fits.
    expect(fitOf(pythiaConfig('pythia-1.4b'), 'f16', DEFAULT_LIMITS, DEFAULT_GPU_MEMORY).fits).toBe(
      true,
    );
    // pythia-12b's full-context KV cache holds 40 heads × 2048 × 128 × 4 = 41.9 MB per layer.
    const small: AdapterLimits = {
      maxStorageBufferBindingSize: 32 * MiB,
      maxBufferSize: 256 * MiB,
    };
    const twelve = pythiaConfig('pythia-12b');
    expect(fitOf(twelve, 'q4', small, Number.POSITIVE_INFINITY)).toMatchObject({
      fits: false,
      problem: 'binding',
    });
    expect(fitOf(pythiaConfig('pythia-6.9b'), 'q4', small, 8 * GiB).fits).toBe(true);
  });

  it('keeps f16 for widths that are not multiples of 32, which cannot be quantized', () => {
    const odd = parseNeoXConfig({
      hidden_size: 48,
      num_attention_heads: 2,
      num_hidden_layers: 2,
      intermediate_size: 192,
      vocab_size: 1000,
      rotary_pct: 0.25,
      max_position_embeddings: 2048,
    });
    expect(fitOf(odd, 'q8', DISCRETE, DEFAULT_GPU_MEMORY)).toMatchObject({
      fits: false,
      problem: 'width',
    });
    expect(autoDtype(odd, DISCRETE, DEFAULT_GPU_MEMORY)).toMatchObject({
      dtype: 'f16',
      fits: true,
    });
    // Not even f16 fits in 1 kB: auto falls back to f16, not to a dtype that cannot load.
    expect(autoDtype(odd, DISCRETE, 1000)).toMatchObject({ dtype: 'f16', fits: false });
  });

  it('resolves a chosen dtype as it is, fitting or not', () => {
    const config = pythiaConfig('pythia-2.8b');
    expect(resolveChoice('auto', config, DISCRETE, DEFAULT_GPU_MEMORY).dtype).toBe('q4');
    expect(resolveChoice('q8', config, DISCRETE, DEFAULT_GPU_MEMORY)).toEqual({
      dtype: 'q8',
      bytes: 4_496_302_080,
      fits: false,
      problem: 'memory',
    });
  });
});

describe('what the model list says', () => {
  it('names the dtype and the estimate, or says the size is too large', () => {
    const line = (name: string) =>
      describeFit(autoDtype(pythiaConfig(name), DISCRETE, DEFAULT_GPU_MEMORY));
    expect(line('pythia-70m')).toBe('f16, 230 MB');
    expect(line('pythia-1.4b')).toBe('f16, 3.7 GB');
    expect(line('pythia-2.8b')).toBe('q4, 3.2 GB');
    expect(line('pythia-6.9b')).toBe('too large for this adapter');
    expect(line('pythia-12b')).toBe('too large for this adapter');
  });

  it('says why a dtype does not fit', () => {
    const q8 = fitOf(pythiaConfig('pythia-2.8b'), 'q8', DISCRETE, DEFAULT_GPU_MEMORY);
    expect(fitProblem(q8, DEFAULT_GPU_MEMORY)).toBe(
      'needs about 4.5 GB, over the 4 GiB of GPU memory assumed',
    );
    expect(formatEstimate(165_711_872)).toBe('170 MB');
    expect(formatGiB(1.5 * GiB)).toBe('1.5 GiB');
  });

  it('knows the config of every repo of the suite, and of no other', () => {
    expect(suiteConfig('EleutherAI/pythia-410m-deduped')?.hiddenSize).toBe(1024);
    expect(suiteConfig('EleutherAI/pythia-tiny')).toBeUndefined();
  });
});

describe('the line under the dtype choice', () => {
  it('says what auto or the choice loads and that GPU memory is assumed', () => {
    const assumed =
      'Browsers do not report GPU memory: 4 GiB is assumed (?gpu_memory= sets it, in GiB), so ' +
      'the fit is an estimate.';
    const config = suiteConfig('EleutherAI/pythia-2.8b');
    expect(dtypeNote(config, 'auto', DISCRETE, DEFAULT_GPU_MEMORY)).toBe(
      `Auto loads q4 weights: about 3.2 GB of GPU memory. ${assumed}`,
    );
    expect(dtypeNote(config, 'f16', DISCRETE, DEFAULT_GPU_MEMORY)).toBe(
      `f16 weights: this model needs about 7 GB, over the 4 GiB of GPU memory assumed, so loading may fail. ${assumed}`,
    );
    expect(dtypeNote(undefined, 'auto', DISCRETE, DEFAULT_GPU_MEMORY)).toBe(
      `Auto picks the widest weights that fit from the checkpoint's config.json as it loads. ${assumed}`,
    );
    // Before WebGPU answers (or without it), nothing is claimed.
    expect(dtypeNote(config, 'auto', undefined, DEFAULT_GPU_MEMORY)).toBe('');
  });
});
