// A Hugging Face GPT-NeoX checkpoint folder on disk at a real Pythia shape, f16, sharded as the
// Hub's are, for the benches whose weights do not fit in memory: every block matrix N(0, 0.02) as
// in `randomCheckpoint`, and (for bench/large-shapes.ts) a next-token rule planted in the
// embeddings so that the model's predictions are peaked, as a trained model's are.
//
// Why plant: with random weights alone the next-token distribution is nearly flat (logit standard
// deviation about 1 over 50k tokens), its top two tokens a few hundredths of a logit apart, so any
// quantization flips the greedy choice about half the time (bench/quantized.ts measures 50% top-1
// agreement for q4 at 1.4b) and "greedy decode matches f32" can't tell a correct quantized model
// from a broken one. The rule: `embed_out` row π(t) is `embed_in` row t scaled, for every token t
// the tokenizer can produce (π a fixed permutation of them), and `embed_in` is just wide enough to
// stay visible in the final residual beside the 2·layers random block outputs that make up most
// of it (`embedStd`). The model then predicts π(input token) about 10 standard deviations of the
// other logits above their mean (about 5 above the best of the other 50k), as peaked as a trained
// model's confident predictions, while the rest of every logit comes from the random blocks: a
// quantized model that computes them wrongly shows it as |Δlogit| against f32 even when the
// greedy choices agree.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SafetensorsWriter } from '@pythiajs/checkpoint-hub';
import { fileSink } from '@pythiajs/checkpoint-hub/node';
import { f16BitsToF32Array, f32ArrayToF16Bits, f32ToF16Bits } from '@pythiajs/tensor-core';
import { type NeoXConfig, randomCheckpoint } from '../src/index.js';

/** Ids the GPT-NeoX-20B tokenizer produces: the planted rule maps them among themselves. */
export const TOKENIZER_IDS = 50277;
/** How many standard deviations of the other logits the planted token's logit lies above them. */
const PLANTED_SIGMAS = 10;

/**
 * The standard deviation of `embed_in`'s entries that puts the planted logit `PLANTED_SIGMAS`
 * above the rest. Every block reads a LayerNorm'd (unit variance) input, so its output does not
 * depend on `embed_in`: with N(0, σ = 0.02) matrices and a = σ²·d, the attention adds about a·Σp²
 * (≤ a) of variance per entry and the MLP about a·4σ²d·½ = 2a², so the blocks leave a residual of
 * variance n² ≈ 2.5·L·a². After ln_final the planted logit is about √d·s/√(s² + n²) standard
 * deviations up; solved for s.
 */
export function embedStd(config: { hiddenSize: number; numLayers: number }): number {
  const d = config.hiddenSize;
  const noise = 0.02 ** 2 * d * Math.sqrt(2.5 * config.numLayers);
  return (noise * PLANTED_SIGMAS) / Math.sqrt(d - PLANTED_SIGMAS ** 2);
}
/** π(t) = (t · 7919 + 1) mod 50277, a permutation since 7919 is prime and does not divide 50277. */
export const planted = (t: number) => (t * 7919 + 1) % TOKENIZER_IDS;
const F16_ONE = 0x3c00;

/**
 * `count` f16 values (bit patterns) drawn from N(0, std), fast enough for 12B of them (a minute,
 * where drawing each from a Box–Muller pair takes most of an hour): each is a 16-bit random index
 * into a table of 65 536 normal draws, two indices per xorshift32 step. Seeded by `seed`.
 */
function normalF16(count: number, std: number, seed: number): Uint16Array {
  let s = Math.imul(seed + 1, 2654435761) >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
  const table = new Uint16Array(65536);
  for (let i = 0; i < table.length; i++) {
    const u = (next() + 1) / 4294967297;
    const v = next() / 4294967296;
    table[i] = f32ToF16Bits(std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
  }
  const out = new Uint16Array(count);
  for (let i = 0; i + 1 < count; i += 2) {
    const r = next();
    out[i] = table[r & 0xffff]!;
    out[i + 1] = table[r >>> 16]!;
  }
  if (count % 2 === 1) out[count - 1] = table[next() & 0xffff]!;
  return out;
}

/** Shards of at most this many bytes, as the Hub's `model-0000i-of-0000n.safetensors`. */
const SHARD_BYTES = 4e9;

/**
 * Writes `config.json`, `model-*.safetensors` and `model.safetensors.index.json` of a
 * pythia-shaped f16 checkpoint into `folder`, a tensor at a time (the host holds the largest
 * tensor as f32: 1 GB at 12b): with the planted rule, or (`planted: false`) every matrix
 * N(0, 0.02), embeddings included, as `randomCheckpoint` but drawn fast enough for 12B weights.
 * Returns its size in bytes.
 */
export async function writeCheckpointFolder(
  folder: string,
  config: NeoXConfig,
  options: {
    planted?: boolean;
    onTensor?: (name: string, index: number, count: number) => void;
  } = {},
): Promise<number> {
  const { planted: plant = true, onTensor } = options;
  if (plant && config.tieWordEmbeddings)
    throw new Error('planted checkpoint: untied embeddings only');
  // Its tensor list and config.json; the values are drawn here.
  const random = randomCheckpoint(config);
  const d = config.hiddenSize;
  const std = embedStd(config);
  // Logits of the other tokens then have a standard deviation of about 1 (ln_final's output has
  // unit variance per entry; embed_out's entries have 1/√d).
  const outScale = 1 / (std * Math.sqrt(d));
  let embedIn: Float32Array | undefined;
  const values = async (name: string, index: number): Promise<Uint16Array> => {
    const entry = random.tensors.get(name)!;
    const count = entry.byteLength / 2;
    if (plant && name === 'embed_out.weight') {
      if (!embedIn) throw new Error('planted checkpoint: embed_in is written before embed_out');
      const out = new Float32Array(embedIn.length);
      for (let row = 0; row < config.vocabSize; row++) {
        const to = row < TOKENIZER_IDS ? planted(row) : row;
        for (let i = 0; i < d; i++) out[to * d + i] = embedIn[row * d + i]! * outScale;
      }
      return f32ArrayToF16Bits(out);
    }
    if (entry.shape.length === 1) {
      // LayerNorm weights 1, biases 0.
      return new Uint16Array(count).fill(name.endsWith('norm.weight') ? F16_ONE : 0);
    }
    if (plant && name === 'gpt_neox.embed_in.weight') {
      const out = normalF16(count, std, index);
      embedIn = f16BitsToF32Array(out);
      return out;
    }
    return normalF16(count, 0.02, index);
  };

  // Tensors in expectedShapes' order, with embed_out last so that embed_in is known by then.
  const entries = [...random.tensors.values()].sort(
    (a, b) => Number(a.name === 'embed_out.weight') - Number(b.name === 'embed_out.weight'),
  );
  const shards: (typeof entries)[] = [[]];
  let shardBytes = 0;
  for (const entry of entries) {
    if (shardBytes + entry.byteLength > SHARD_BYTES && shards.at(-1)!.length > 0) {
      shards.push([]);
      shardBytes = 0;
    }
    shards.at(-1)!.push(entry);
    shardBytes += entry.byteLength;
  }
  await mkdir(folder, { recursive: true });
  const weightMap: Record<string, string> = {};
  const pad = (n: number) => String(n).padStart(5, '0');
  let index = 0;
  let total = 0;
  for (const [i, shard] of shards.entries()) {
    const file = `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`;
    const writer = await SafetensorsWriter.create(
      await fileSink(join(folder, file)),
      shard.map((e) => ({ name: e.name, dtype: 'F16' as const, shape: e.shape })),
      { metadata: { format: 'pt' } },
    );
    try {
      for (const entry of shard) {
        await writer.writeRows(entry.name, 0, await values(entry.name, index));
        weightMap[entry.name] = file;
        total += entry.byteLength;
        onTensor?.(entry.name, ++index, entries.length);
      }
      await writer.finish();
    } catch (error) {
      await writer.abort();
      throw error;
    }
  }
  await writeFile(
    join(folder, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2),
  );
  await writeFile(
    join(folder, 'config.json'),
    JSON.stringify(
      {
        architectures: ['GPTNeoXForCausalLM'],
        bos_token_id: 0,
        eos_token_id: 0,
        torch_dtype: 'float16',
        ...(random.config as Record<string, unknown>),
      },
      null,
      2,
    ),
  );
  return total;
}
