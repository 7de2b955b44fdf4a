import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensorsHeader, readTensorBytes, tensorData } from '@pythiajs/checkpoint-hub';
import { fileSource } from '@pythiajs/checkpoint-hub/node';
import { FakeHub } from '@pythiajs/checkpoint-hub/testing';
import { NeoXModel, runWithCache } from '@pythiajs/neox-model';
import { f16BitsToF32Array } from '@pythiajs/tensor-core';
import { Tokenizer } from '@pythiajs/tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureCommit, fixtureFolder, hubEnv, maxAbsDiff, pythia } from './support.js';

// tiny-neox-f16: 2 layers, d_model 32, 2 heads of 16, d_mlp 128, 50 304 ids, context 2048.
const F16 = fixtureFolder('tiny-neox-f16');
const STEP = 'a'.repeat(40);
const tokenizer = Tokenizer.fromJSON(
  readFileSync(join(fixtureFolder('gpt-neox-20b'), 'tokenizer.json'), 'utf8'),
);

let dir: string;
let model: NeoXModel;
let hub: FakeHub;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pythia-activations-'));
  model = await NeoXModel.load({ folder: F16 });
  hub = await new FakeHub({
    'EleutherAI/pythia-tiny': {
      branches: { step143000: STEP, main: STEP },
      commits: { [STEP]: fixtureCommit('tiny-neox-f16') },
    },
  }).start();
});
afterAll(async () => {
  model?.dispose();
  await hub?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The file at `path`, read back with the package's reader (F16 as f32 values). */
async function readBack(path: string) {
  const source = await fileSource(path);
  try {
    const { tensors, metadata } = await readSafetensorsHeader(source, path);
    const out = new Map<string, { shape: number[]; dtype: string; values: number[] }>();
    for (const t of tensors) {
      const data = tensorData(t.dtype, await readTensorBytes(source, t));
      const values =
        t.dtype === 'F16'
          ? [...f16BitsToF32Array(data as Uint16Array)]
          : t.dtype === 'I64'
            ? [...(data as BigInt64Array)].map(Number)
            : [...(data as Float32Array | Int32Array)];
      out.set(t.name, { shape: t.shape, dtype: t.dtype, values });
    }
    return { tensors: out, metadata };
  } finally {
    await source.close();
  }
}

const rows = (values: number[], shape: number[], from: number, to: number) => {
  const width = shape.slice(1).reduce((a, b) => a * b, 1);
  return values.slice(from * width, to * width);
};

describe('pythia activations', () => {
  it('writes the hook points over a long --file, in windows of --context, as runWithCache reads them', async () => {
    const text = 'It was the best of times, it was the worst of times. '.repeat(12);
    const file = join(dir, 'book.txt');
    writeFileSync(file, text);
    const out = join(dir, 'book.safetensors');
    const run = await pythia([
      'activations',
      '--model',
      F16,
      '--names',
      'blocks.*.hook_resid_post, blocks.0.attn.hook_z,blocks.1.mlp.hook_pre',
      '--file',
      file,
      '--out',
      out,
      '--context',
      '64',
      '--tokens-per-step',
      '48',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const ids = tokenizer.encode(text);
    const T = ids.length;
    expect(T).toBeGreaterThan(128);
    const windows = Math.ceil(T / 64);
    const names = [
      'blocks.0.hook_resid_post',
      'blocks.1.hook_resid_post',
      'blocks.0.attn.hook_z',
      'blocks.1.mlp.hook_pre',
    ];
    // Each hook point's rows as a run of the model gives them (hook_z: [T, heads, d_head]).
    const { cache: first } = await runWithCache(model, ids.slice(0, 1), { names });
    const shapes = [
      ...new Set(names.map((n) => `[${[T, ...first.get(n)!.shape.slice(1)].join(', ')}]`)),
    ];
    expect(run.stdout).toBe(
      `wrote ${out}: 4 hook points as float32 ${shapes.join(', ')}, input_ids and sequence_starts ` +
        `(${T} tokens, 1 sequence, ${windows} windows of at most 64); safetensors.numpy.load_file reads it\n`,
    );
    expect(readdirSync(dir).filter((f) => f.includes('.partial'))).toEqual([]);
    const { tensors, metadata } = await readBack(out);
    expect([...tensors.keys()].sort()).toEqual([...names, 'input_ids', 'sequence_starts'].sort());
    expect(metadata).toMatchObject({
      model: F16,
      revision: 'local',
      dtype: 'f32',
      weights_dtype: 'f16',
      context: '64',
      hook_names: names.join(','),
      input: `--file ${file}`,
      tokens: `${T}`,
      sequences: '1',
    });
    expect(tensors.get('input_ids')).toMatchObject({ dtype: 'I32', shape: [T], values: ids });
    expect(tensors.get('sequence_starts')).toMatchObject({ dtype: 'I64', values: [0, T] });
    for (let from = 0; from < T; from += 64) {
      const to = Math.min(T, from + 64);
      const { cache } = await runWithCache(model, ids.slice(from, to), { names });
      for (const name of names) {
        const { shape, values, dtype } = tensors.get(name)!;
        expect(dtype).toBe('F32');
        expect(shape.slice(1)).toEqual(cache.get(name)!.shape.slice(1));
        const expected = cache.get(name)!.data;
        expect(maxAbsDiff(rows(values, shape, from, to), expected), `${name} ${from}`).toBeLessThan(
          1e-3,
        );
      }
    }
  });

  it('writes one sequence per --jsonl line, in f16, naming the Hub revision and commit', async () => {
    const texts = ['Hello, I am', 'My favorite food is', 'The capital of France is Paris.'];
    const jsonl = join(dir, 'texts.jsonl');
    writeFileSync(jsonl, `${texts.map((text) => JSON.stringify({ text, id: 1 })).join('\n')}\n\n`);
    const out = join(dir, 'texts.safetensors');
    writeFileSync(out, 'an earlier file');
    const run = await pythia(
      [
        'activations',
        '--model',
        'EleutherAI/pythia-tiny',
        '--revision',
        'step143000',
        '--names',
        'hook_embed,blocks.1.attn.hook_q',
        '--jsonl',
        jsonl,
        '--out',
        out,
        '--out-dtype',
        'f16',
        '--json',
      ],
      {
        env: hubEnv(hub.hubOrigin, join(dir, 'hub')),
      },
    );
    expect(run.code, run.stderr).toBe(0);
    const sequences = texts.map((t) => tokenizer.encode(t));
    const T = sequences.flat().length;
    expect(JSON.parse(run.stdout)).toEqual({
      out,
      model: 'EleutherAI/pythia-tiny',
      revision: 'step143000',
      commit: STEP,
      dtype: 'f16',
      names: ['hook_embed', 'blocks.1.attn.hook_q'],
      shapes: {
        hook_embed: [T, 32],
        'blocks.1.attn.hook_q': [T, 2, 16],
        input_ids: [T],
        sequence_starts: [4],
      },
      tokens: T,
      sequences: 3,
      windows: 3,
      context: 2048,
      bytes: readFileSync(out).length,
    });
    const { tensors, metadata } = await readBack(out);
    expect(metadata).toMatchObject({
      model: 'EleutherAI/pythia-tiny',
      revision: 'step143000',
      commit: STEP,
      dtype: 'f16',
      input: `--jsonl ${jsonl} (3 lines)`,
    });
    expect(tensors.get('input_ids')!.values).toEqual(sequences.flat());
    const starts = [0];
    for (const s of sequences) starts.push(starts.at(-1)! + s.length);
    expect(tensors.get('sequence_starts')!.values).toEqual(starts);
    for (const [i, ids] of sequences.entries()) {
      const { cache } = await runWithCache(model, ids, {
        names: ['hook_embed', 'blocks.1.attn.hook_q'],
      });
      for (const name of ['hook_embed', 'blocks.1.attn.hook_q']) {
        const { shape, values, dtype } = tensors.get(name)!;
        expect(dtype).toBe('F16');
        const expected = cache.get(name)!.data;
        const scale = Math.max(1, ...Array.from(expected, Math.abs));
        expect(
          maxAbsDiff(rows(values, shape, starts[i]!, starts[i + 1]!), expected),
          name,
        ).toBeLessThan(scale * 2 ** -10);
      }
    }
  });

  const refusals: Array<[string, string[], number, RegExp]> = [
    [
      'an attention pattern',
      ['--names', 'blocks.0.attn.hook_pattern', '--text', 'Hi'],
      2,
      /is an attention pattern or score, \[heads, dest, src\], with no position axis to write as rows; read patterns with runWithCache or attentionPatterns \(pythia lens --attention\)/,
    ],
    [
      'an unknown hook point',
      ['--names', 'blocks.7.hook_resid_post', '--text', 'Hi'],
      2,
      /no hook point "blocks\.7\.hook_resid_post"; the hook points written as rows are hook_embed, blocks\.\*\.hook_resid_pre, /,
    ],
    ['no input', ['--names', 'hook_embed'], 2, /give the input as --text, --file or --jsonl/],
    [
      'two inputs',
      ['--names', 'hook_embed', '--text', 'a', '--file', 'b.txt'],
      2,
      /give the input as --text, --file or --jsonl \(one of them\)/,
    ],
    [
      'a --context longer than the model',
      ['--names', 'hook_embed', '--text', 'Hi', '--context', '4096'],
      2,
      /--context must be at most the model's context, 2048/,
    ],
    [
      'an unknown --out-dtype',
      ['--names', 'hook_embed', '--text', 'Hi', '--out-dtype', 'bf16'],
      2,
      /--out-dtype.*bf16.*f32, f16/,
    ],
  ];
  for (const [what, args, code, message] of refusals) {
    it(`exits ${code} with one line on ${what}, writing nothing`, async () => {
      const out = join(dir, `refused-${what.replaceAll(' ', '-')}.safetensors`);
      const run = await pythia(['activations', '--model', F16, ...args, '--out', out]);
      expect(run.code).toBe(code);
      expect(run.stdout).toBe('');
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(message);
      expect(existsSync(out)).toBe(false);
      expect(existsSync(`${out}.partial`)).toBe(false);
    });
  }

  it('says which line of a --jsonl file is not usable', async () => {
    const jsonl = join(dir, 'bad.jsonl');
    writeFileSync(jsonl, '{"text": "fine"}\n{"body": "no text"}\n');
    const run = await pythia([
      'activations',
      '--model',
      F16,
      '--names',
      'hook_embed',
      '--jsonl',
      jsonl,
      '--out',
      join(dir, 'bad.safetensors'),
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `pythia: ${jsonl}:2 has no "text" string; give one {"text": …} object per line\n`,
    );
  });

  it('exits 1 when --out cannot be written, saying what to check', async () => {
    const out = join(dir, 'no', 'such', 'folder', 'acts.safetensors');
    const run = await pythia([
      'activations',
      '--model',
      F16,
      '--names',
      'hook_embed',
      '--text',
      'Hi',
      '--out',
      out,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `pythia: cannot write ${out} (ENOENT); check that its folder exists and is writable\n`,
    );
  });
});
