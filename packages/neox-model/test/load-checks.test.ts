import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Checkpoint, openCheckpoint } from '@pythiajs/checkpoint-hub';
import { LocalFolderStore } from '@pythiajs/checkpoint-hub/node';
import { createDevice, type Device, f32ToF16Bits } from '@pythiajs/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigMismatchError,
  checkConfigAgainstTensors,
  InvalidConfigError,
  NeoXModel,
  NonFiniteWeightsError,
  parseNeoXConfig,
} from '../src/index.js';
import { fixtureFolder } from './golden.js';

const tinyConfig = () =>
  JSON.parse(readFileSync(`${fixtureFolder('tiny-neox-f16')}/config.json`, 'utf8'));

/** A device whose every property throws: proof that a load was refused without any GPU work. */
const untouchableDevice = new Proxy({} as Device, {
  get: (_, key) => {
    throw new Error(`the device was used (${String(key)})`);
  },
});

/**
 * The tiny f16 checkpoint (2 layers, hidden 32, vocab 50304) as if it were
 * EleutherAI/pythia-tiny@step3000, with its config.json replaced by `config`.
 */
async function tinyWithConfig(config: object): Promise<Checkpoint> {
  const checkpoint = await openCheckpoint(
    fixtureFolder('tiny-neox-f16'),
    'local',
    new LocalFolderStore(),
  );
  return { ...checkpoint, repo: 'EleutherAI/pythia-tiny', revision: 'step3000', config };
}

interface Poison {
  tensor: string;
  index: number;
  value: number;
}

/**
 * Copies a fixture's config.json and safetensors files into a temporary folder, with the given
 * values written over the stored ones (in the tensor's own dtype), as a damaged download would be.
 */
const temporary: string[] = [];
afterAll(() => {
  for (const folder of temporary) rmSync(folder, { recursive: true, force: true });
});

function poisoned(fixture: string, poisons: Poison[]): string {
  const from = fixtureFolder(fixture);
  const folder = mkdtempSync(join(tmpdir(), `${fixture}-poisoned-`));
  temporary.push(folder);
  cpSync(from, folder, {
    recursive: true,
    filter: (path) => path === from || /config\.json$|\.safetensors(\.index\.json)?$/.test(path),
  });
  const index = join(folder, 'model.safetensors.index.json');
  const weightMap: Record<string, string> | undefined = existsSync(index)
    ? JSON.parse(readFileSync(index, 'utf8')).weight_map
    : undefined;
  for (const { tensor, index: at, value } of poisons) {
    const path = join(folder, weightMap?.[tensor] ?? 'model.safetensors');
    const bytes = readFileSync(path);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.toString('utf8', 8, 8 + headerLength));
    const { dtype, data_offsets } = header[tensor] as { dtype: string; data_offsets: number[] };
    const offset = 8 + headerLength + data_offsets[0]!;
    if (dtype === 'F16') bytes.writeUInt16LE(f32ToF16Bits(value), offset + 2 * at);
    else if (dtype === 'F32') bytes.writeFloatLE(value, offset + 4 * at);
    else throw new Error(`poisoned() writes F16 or F32, not ${dtype}`);
    writeFileSync(path, bytes);
  }
  return folder;
}

/** The rejection of a promise, which must reject. */
async function rejection<T extends Error>(promise: Promise<unknown>): Promise<T> {
  return promise.then(
    () => expect.unreachable('it loaded'),
    (error: unknown) => error as T,
  );
}

describe('config.json bounds, checked before anything is sized from it', () => {
  it('refuses num_hidden_layers 1e9 in parseNeoXConfig itself, naming the bound', () => {
    const absurd = { ...tinyConfig(), num_hidden_layers: 1_000_000_000 };
    expect(() => parseNeoXConfig(absurd)).toThrow(InvalidConfigError);
    expect(() => parseNeoXConfig(absurd)).toThrow(
      'config.json: "num_hidden_layers" is 1000000000, above the limit of 1024',
    );
  });

  it('names each bounded field, and accepts values at the bounds', () => {
    const cases: Array<[string, number, number]> = [
      ['hidden_size', 65_536 * 2, 65_536],
      ['num_attention_heads', 2048, 1024],
      ['intermediate_size', 262_145, 262_144],
      ['vocab_size', 1_048_577, 1_048_576],
      ['max_position_embeddings', 2 ** 31, 1_048_576],
    ];
    for (const [field, value, limit] of cases) {
      const config = { ...tinyConfig(), [field]: value };
      expect(() => parseNeoXConfig(config)).toThrow(
        `"${field}" is ${value}, above the limit of ${limit}`,
      );
    }
    const atBounds = parseNeoXConfig({
      ...tinyConfig(),
      num_hidden_layers: 1024,
      hidden_size: 65_536,
      num_attention_heads: 1024,
      intermediate_size: 262_144,
      vocab_size: 1_048_576,
      max_position_embeddings: 1_048_576,
    });
    expect(atBounds.headDim).toBe(64);
  });

  it('refuses an absurd config through fromCheckpoint without touching the device, naming the checkpoint', async () => {
    const checkpoint = await tinyWithConfig({ ...tinyConfig(), num_hidden_layers: 1_000_000_000 });
    const error = await rejection<InvalidConfigError>(
      NeoXModel.fromCheckpoint(checkpoint, { device: untouchableDevice }),
    );
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect(error.message).toBe(
      'config.json of EleutherAI/pythia-tiny@step3000: "num_hidden_layers" is 1000000000, above the ' +
        'limit of 1024 (far beyond any GPT-NeoX model; the file is damaged or not a model config). ' +
        'Load the config.json of a GPT-NeoX (Pythia) checkpoint.',
    );
    await checkpoint.close();
  });

  it('names the checkpoint for any other config problem found at load', async () => {
    const checkpoint = await tinyWithConfig({ ...tinyConfig(), hidden_size: '32' });
    const error = await rejection<InvalidConfigError>(
      NeoXModel.fromCheckpoint(checkpoint, { device: untouchableDevice }),
    );
    expect(error.source).toBe('EleutherAI/pythia-tiny@step3000');
    expect(error.message).toMatch(
      /^config\.json of EleutherAI\/pythia-tiny@step3000: "hidden_size" must be a positive integer, got "32"/,
    );
    await checkpoint.close();
  });
});

describe('config.json cross-checked against the tensors before any allocation', () => {
  let device: Device;
  beforeAll(async () => {
    device = await createDevice();
  });
  afterAll(() => device?.destroy());

  /** Loads with `config` on the real device and returns the error, checking nothing was allocated. */
  async function refusal(config: object): Promise<ConfigMismatchError> {
    const checkpoint = await tinyWithConfig(config);
    const before = { ...device.stats };
    const error = await rejection<ConfigMismatchError>(
      NeoXModel.fromCheckpoint(checkpoint, { device }),
    );
    expect(device.stats.buffersCreated).toBe(before.buffersCreated);
    expect(device.stats.bytesAllocated).toBe(before.bytesAllocated);
    expect(device.stats.buffersReused).toBe(before.buffersReused);
    await checkpoint.close();
    expect(error).toBeInstanceOf(ConfigMismatchError);
    return error;
  }

  it('refuses 3 layers on a 2-layer checkpoint, saying what the checkpoint holds', async () => {
    const error = await refusal({ ...tinyConfig(), num_hidden_layers: 3 });
    expect(error.field).toBe('num_hidden_layers');
    expect(error.configValue).toBe(3);
    expect(error.message).toBe(
      'config.json of EleutherAI/pythia-tiny@step3000 says num_hidden_layers 3 but the checkpoint ' +
        'has layers 0–1 (2 layers); the config and the weights do not belong together. Use the ' +
        'config.json saved with these weights (for a Hub revision: delete it from the cache and ' +
        'download it again)',
    );
  });

  it('refuses fewer layers than the checkpoint holds too', async () => {
    const error = await refusal({ ...tinyConfig(), num_hidden_layers: 1 });
    expect(error.message).toMatch(/says num_hidden_layers 1 but the checkpoint has layers 0–1/);
  });

  it("refuses a vocab_size or hidden_size that embed_in's shape contradicts", async () => {
    const vocab = await refusal({ ...tinyConfig(), vocab_size: 50432 });
    expect(vocab.field).toBe('vocab_size');
    expect(vocab.message).toMatch(
      /says vocab_size 50432 but the checkpoint's gpt_neox\.embed_in\.weight is \[50304, 32\] \(\[vocab_size, hidden_size\]\)/,
    );
    // hidden 64 over 2 heads is a valid config on its own (head_dim 32, 8 rotary dims).
    const hidden = await refusal({ ...tinyConfig(), hidden_size: 64 });
    expect(hidden.field).toBe('hidden_size');
    expect(hidden.message).toMatch(/says hidden_size 64 but .*embed_in\.weight is \[50304, 32\]/);
  });

  it('refuses an intermediate_size that the first MLP contradicts', async () => {
    const error = await refusal({ ...tinyConfig(), intermediate_size: 256 });
    expect(error.field).toBe('intermediate_size');
    expect(error.message).toMatch(/dense_h_to_4h\.weight is \[128, 32\]/);
  });

  it('is one function anything can call on an opened checkpoint', async () => {
    const checkpoint = await tinyWithConfig(tinyConfig());
    expect(() =>
      checkConfigAgainstTensors(parseNeoXConfig(checkpoint.config as object), checkpoint),
    ).not.toThrow();
    expect(() =>
      checkConfigAgainstTensors(
        parseNeoXConfig({ ...tinyConfig(), num_hidden_layers: 4 }),
        checkpoint,
      ),
    ).toThrow(ConfigMismatchError);
    await checkpoint.close();
  });
});

describe('weights that are NaN or ±Infinity are refused at load, naming the tensor', () => {
  let device: Device;
  beforeAll(async () => {
    device = await createDevice();
  });
  afterAll(() => device?.destroy());

  const up = 'gpt_neox.layers.0.mlp.dense_h_to_4h.weight'; // [intermediate, hidden]

  for (const dtype of ['f16', 'f32'] as const) {
    it(`an f16 checkpoint with NaN in a matrix, loaded as ${dtype}`, async () => {
      // 1235 = 38 · 32 + 19: row 38, column 19 of the [128, 32] matrix.
      const folder = poisoned('tiny-neox-f16', [
        { tensor: up, index: 1235, value: Number.NaN },
        { tensor: up, index: 2000, value: Number.POSITIVE_INFINITY },
      ]);
      const error = await rejection<NonFiniteWeightsError>(
        NeoXModel.load({ folder }, { device, dtype }),
      );
      expect(error).toBeInstanceOf(NonFiniteWeightsError);
      expect(error).toMatchObject({
        tensor: up,
        source: `${folder}@local`,
        index: 1235,
        position: [38, 19],
        count: 2,
        kind: 'non-finite',
      });
      expect(error.value).toBeNaN();
      expect(error.message).toBe(
        `tensor ${up} of ${folder}@local holds NaN at index 1235 ([38, 19]) (and 1 more non-finite ` +
          'value); the checkpoint is damaged. Delete it from the cache and download it again, or ' +
          'pass allowNonFinite: true to load it anyway',
      );
    });
  }

  it('loads it anyway with allowNonFinite, and then every logit is NaN: what the check prevents', async () => {
    const folder = poisoned('tiny-neox-f16', [{ tensor: up, index: 1234, value: Number.NaN }]);
    const model = await NeoXModel.load({ folder }, { device, allowNonFinite: true });
    const logits = await model.forward([12092, 13]);
    expect(logits.every(Number.isNaN)).toBe(true);
    model.dispose();
  });

  for (const dtype of ['f16', 'f32'] as const) {
    it(`an f32 checkpoint with -Infinity in a LayerNorm bias, loaded as ${dtype}`, async () => {
      const bias = 'gpt_neox.layers.2.post_attention_layernorm.bias'; // [96]
      const folder = poisoned('tiny-neox-f32-sharded', [
        { tensor: bias, index: 95, value: Number.NEGATIVE_INFINITY },
      ]);
      const error = await rejection<NonFiniteWeightsError>(
        NeoXModel.load({ folder }, { device, dtype }),
      );
      expect(error).toMatchObject({ tensor: bias, index: 95, count: 1, kind: 'non-finite' });
      expect(error.message).toMatch(
        new RegExp(
          `^tensor ${bias} of .*@local holds -Infinity at index 95 \\(\\[95\\]\\); the checkpoint is damaged`,
        ),
      );
    });

    it(`an f32 checkpoint with NaN in a matrix, loaded as ${dtype}, is damaged (not an f16 overflow)`, async () => {
      const qkv = 'gpt_neox.layers.1.attention.query_key_value.weight'; // [288, 96]
      const folder = poisoned('tiny-neox-f32-sharded', [
        { tensor: qkv, index: 7, value: 1e6 },
        { tensor: qkv, index: 500, value: Number.NaN },
      ]);
      const error = await rejection<NonFiniteWeightsError>(
        NeoXModel.load({ folder }, { device, dtype }),
      );
      // The NaN is what is wrong with the file, whichever dtype it is loaded as.
      expect(error).toMatchObject({ tensor: qkv, index: 500, count: 1, kind: 'non-finite' });
    });
  }

  it("an f32 weight beyond f16's range: refused as f16 with a pointer to f32, loaded as f32", async () => {
    const down = 'gpt_neox.layers.0.mlp.dense_4h_to_h.weight'; // [96, 384]
    const folder = poisoned('tiny-neox-f32-sharded', [
      { tensor: down, index: 400, value: 1e6 },
      { tensor: down, index: 401, value: -65520 }, // rounds to -Infinity in f16
      { tensor: down, index: 402, value: 65504 }, // the largest f16: fine
    ]);
    const error = await rejection<NonFiniteWeightsError>(
      NeoXModel.load({ folder }, { device, dtype: 'f16' }),
    );
    expect(error).toMatchObject({
      tensor: down,
      index: 400,
      position: [1, 16],
      value: 1e6,
      count: 2,
      kind: 'f16-overflow',
    });
    expect(error.message).toBe(
      `tensor ${down} of ${folder}@local holds 1000000 at index 400 ([1, 16]) (and 1 more value like it), ` +
        "beyond ±65504, the largest f16, so f16 weights would make it Infinity. Load it with dtype: 'f32' " +
        '(or pass allowNonFinite: true to load it as Infinity anyway)',
    );

    // Its own dtype, the default, holds it.
    const model = await NeoXModel.load({ folder }, { device });
    expect(model.dtype).toBe('f32');
    model.dispose();
  });
});
