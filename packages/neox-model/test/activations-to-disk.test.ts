import {
  bytesSource,
  memorySink,
  type RandomAccessSink,
  readSafetensorsHeader,
  readTensorBytes,
  tensorData,
} from '@pythiajs/checkpoint-hub';
import { createDevice, type Device, f16BitsToF32Array } from '@pythiajs/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ForwardError,
  InvalidInputError,
  NeoXModel,
  resolveActivationNames,
  runWithCache,
  writeActivations,
} from '../src/index.js';
import { fixtureFolder, maxAbsDiff } from './golden.js';

let device: Device;
let model: NeoXModel; // tiny-neox-bin: 2 layers, d_model 64, 4 heads, d_mlp 256, context 256

beforeAll(async () => {
  device = await createDevice();
  model = await NeoXModel.load(
    { folder: fixtureFolder('tiny-neox-bin') },
    { device, dtype: 'f32' },
  );
});
afterAll(() => {
  model?.dispose();
  device?.destroy();
});

/** Seeded ids in the fixture's vocabulary of 2048. */
function randomIds(length: number, seed: number): number[] {
  let state = seed;
  return Array.from({ length }, () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % 2048;
  });
}

/** The file in `bytes`, read back with the package's own reader. */
async function readBack(bytes: Uint8Array) {
  const source = bytesSource(bytes);
  const { tensors, metadata } = await readSafetensorsHeader(source, 'acts.safetensors');
  const entries = new Map(tensors.map((t) => [t.name, t]));
  const get = async (name: string) => {
    const entry = entries.get(name);
    if (!entry) throw new Error(`no tensor ${name} in the file`);
    const data = tensorData(entry.dtype, await readTensorBytes(source, entry));
    return {
      shape: entry.shape,
      dtype: entry.dtype,
      values: entry.dtype === 'F16' ? f16BitsToF32Array(data as Uint16Array) : data,
    };
  };
  return { names: [...entries.keys()], metadata, get };
}

/** What runWithCache gives for `ids` alone, at each of `names`. */
async function reference(ids: number[], names: string[]) {
  const { cache } = await runWithCache(model, ids, { names });
  return cache;
}

/** Rows `[from, to)` of a `[rows, …]` tensor's values. */
function rowsOf(values: ArrayLike<number>, shape: number[], from: number, to: number) {
  const width = shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.prototype.slice.call(values, from * width, to * width) as number[];
}

const NAMES = [
  'hook_embed',
  'blocks.*.hook_resid_post',
  'blocks.0.attn.hook_q',
  'blocks.1.mlp.hook_post',
];
const RESOLVED = [
  'hook_embed',
  'blocks.0.hook_resid_post',
  'blocks.1.hook_resid_post',
  'blocks.0.attn.hook_q',
  'blocks.1.mlp.hook_post',
];

describe('writeActivations', () => {
  it('writes what runWithCache reads, for several sequences over several steps', async () => {
    // 8 tokens per step: sequences 0 and 1 share a step, 2 (20 tokens) runs alone over three
    // steps continuing in a KV cache, 3 and 4 share the last; the empty one has no rows.
    const sequences = [
      randomIds(5, 1),
      randomIds(3, 2),
      randomIds(20, 3),
      [],
      randomIds(4, 4),
      randomIds(2, 5),
    ];
    const sink = memorySink();
    const progress: number[] = [];
    const written = await writeActivations(model, sequences, {
      names: NAMES,
      sink,
      tokensPerStep: 8,
      metadata: { dataset: 'random ids' },
      onProgress: (p) => {
        expect(p.totalTokens).toBe(34);
        progress.push(p.tokens);
      },
    });
    expect(sink.state).toBe('closed');
    expect(written).toMatchObject({
      names: RESOLVED,
      tokens: 34,
      sequences: 6,
      windows: 5,
      steps: 5,
      shapes: {
        hook_embed: [34, 64],
        'blocks.0.attn.hook_q': [34, 4, 16],
        'blocks.1.mlp.hook_post': [34, 256],
        input_ids: [34],
        sequence_starts: [7],
      },
    });
    expect(progress).toEqual([8, 16, 24, 28, 34]);
    const file = await readBack(sink.bytes());
    expect(written.bytes).toBe(sink.bytes().length);
    expect(file.names.sort()).toEqual([...RESOLVED, 'input_ids', 'sequence_starts'].sort());
    expect(file.metadata).toMatchObject({
      dataset: 'random ids',
      model: model.source.repo,
      dtype: 'f32',
      weights_dtype: 'f32',
      hook_names: RESOLVED.join(','),
      context: '256',
      sequences: '6',
      tokens: '34',
    });
    expect(file.metadata.windowing).toMatch(/non-overlapping windows of 256 tokens/);
    expect(file.metadata.revision).toBe(model.source.revision);
    expect(file.metadata.commit).toBe(model.source.commit);

    const starts = await file.get('sequence_starts');
    expect(starts.dtype).toBe('I64');
    expect([...(starts.values as BigInt64Array)].map(Number)).toEqual([0, 5, 8, 28, 28, 32, 34]);
    const ids = await file.get('input_ids');
    expect(ids.dtype).toBe('I32');
    expect([...(ids.values as Int32Array)]).toEqual(sequences.flat());

    let at = 0;
    for (const sequence of sequences) {
      if (sequence.length === 0) continue;
      const cache = await reference(sequence, RESOLVED);
      for (const name of RESOLVED) {
        const { shape, values, dtype } = await file.get(name);
        expect(dtype).toBe('F32');
        const expected = cache.get(name)!;
        expect(shape.slice(1)).toEqual(expected.shape.slice(1));
        const got = rowsOf(values as Float32Array, shape, at, at + sequence.length);
        expect(maxAbsDiff(got, expected.data), name).toBeLessThan(1e-4);
      }
      at += sequence.length;
    }
  });

  it('cuts a long sequence into fresh windows of `context` tokens', async () => {
    const ids = randomIds(230, 7);
    const names = ['blocks.1.hook_resid_post', 'blocks.0.ln1.hook_normalized'];
    const sink = memorySink();
    // Windows 0–99, 100–199, 200–229; steps of 64 tokens, so each long window runs in chunks.
    const written = await writeActivations(model, ids, {
      names,
      sink,
      context: 100,
      tokensPerStep: 64,
    });
    expect(written).toMatchObject({ tokens: 230, sequences: 1, windows: 3, steps: 5 });
    const file = await readBack(sink.bytes());
    expect(file.metadata.context).toBe('100');
    expect(file.metadata.windowing).toMatch(/windows of 100 tokens/);
    expect([...((await file.get('sequence_starts')).values as BigInt64Array)]).toEqual([0n, 230n]);
    for (const [from, to] of [
      [0, 100],
      [100, 200],
      [200, 230],
    ] as const) {
      const cache = await reference(ids.slice(from, to), names);
      for (const name of names) {
        const { shape, values } = await file.get(name);
        const got = rowsOf(values as Float32Array, shape, from, to);
        expect(maxAbsDiff(got, cache.get(name)!.data), `${name} ${from}–${to}`).toBeLessThan(1e-4);
      }
    }
    // Each window starts afresh: its first row is the first row of a run on it alone, which
    // differs from the row a run on the whole sequence gives there.
    const whole = await runWithCache(model, ids.slice(0, 200), {
      names: ['blocks.1.hook_resid_post'],
    });
    const { shape, values } = await file.get('blocks.1.hook_resid_post');
    expect(
      maxAbsDiff(
        rowsOf(values as Float32Array, shape, 100, 101),
        rowsOf(whole.cache.get('blocks.1.hook_resid_post')!.data, shape, 100, 101),
      ),
    ).toBeGreaterThan(1e-3);
  });

  it('writes f16 activations, rounded from the f32 ones', async () => {
    const sequences = [randomIds(9, 11), randomIds(6, 12)];
    const names = ['blocks.0.hook_resid_post', 'blocks.0.attn.hook_v'];
    const sink = memorySink();
    await writeActivations(model, sequences, { names, sink, dtype: 'f16', tokensPerStep: 10 });
    const file = await readBack(sink.bytes());
    expect(file.metadata.dtype).toBe('f16');
    let at = 0;
    for (const sequence of sequences) {
      const cache = await reference(sequence, names);
      for (const name of names) {
        const { shape, values, dtype } = await file.get(name);
        expect(dtype).toBe('F16');
        const expected = cache.get(name)!.data;
        const got = rowsOf(values as Float32Array, shape, at, at + sequence.length);
        const scale = Math.max(1, ...Array.from(expected, Math.abs));
        // f16 keeps 11 significant bits: within 2^-11 of each value, relative.
        expect(maxAbsDiff(got, expected), name).toBeLessThanOrEqual(scale * 2 ** -11);
      }
      at += sequence.length;
    }
  });

  it('refuses attention patterns, unknown names and empty globs, aborting the sink', async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['blocks.0.attn.hook_pattern'],
        /"blocks\.0\.attn\.hook_pattern" is an attention pattern or score, \[heads, dest, src\], with no position axis to write as rows; read patterns with runWithCache or attentionPatterns/,
      ],
      [['blocks.*.attn.hook_pattern'], /read patterns with runWithCache or attentionPatterns/],
      [
        ['hook_embed', 'blocks.2.hook_resid_post'],
        /no hook point "blocks\.2\.hook_resid_post"; the hook points written as rows are hook_embed, blocks\.\*\.hook_resid_pre, .*blocks\.\*\.hook_resid_post.* \(blocks 0…1; \* matches any characters\)/,
      ],
      [['nothing.*'], /the pattern "nothing\.\*" matches no hook point; the hook points written/],
      [[], /give at least one hook point to write/],
    ];
    for (const [names, message] of cases) {
      const sink = memorySink();
      const error = await writeActivations(model, [1, 2, 3], { names, sink }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidInputError);
      expect(error).toBeInstanceOf(ForwardError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toMatch(/hook_pattern,|attn\.hook_pattern \(/);
      expect(sink.state).toBe('aborted');
    }
  });

  it('refuses bad input and options before running, aborting the sink', async () => {
    const cases: Array<[Parameters<typeof writeActivations>[1], object, RegExp]> = [
      [
        [
          [1, 2],
          [3, 4096],
        ],
        {},
        /sequence 1: token id 4096 at position 1 is outside/,
      ],
      [[[], []], {}, /the input has no tokens/],
      [[1, 2], { context: 257 }, /context 257: windows hold 1 to 256 tokens/],
      [[1, 2], { context: 0 }, /context 0/],
      [[1, 2], { tokensPerStep: 0 }, /tokensPerStep 0/],
      [[1, 2], { dtype: 'bf16' }, /dtype bf16/],
      [[1, 2], { metadata: { model: 'x', tokens: '1' } }, /metadata model, tokens: .* itself/],
    ];
    for (const [input, options, message] of cases) {
      const sink = memorySink();
      await expect(
        writeActivations(model, input, { names: ['hook_embed'], sink, ...options }),
      ).rejects.toThrow(message);
      expect(sink.state).toBe('aborted');
    }
  });

  it('aborts the sink and rethrows when a write fails midway, or the signal aborts', async () => {
    const calls: string[] = [];
    let writes = 0;
    const inner = memorySink();
    const failing: RandomAccessSink = {
      write: async (position, bytes) => {
        // The header, sequence_starts, then step 1's three tensors; the next write fails.
        if (++writes > 5) throw new Error('ENOSPC: no space left on device');
        return inner.write(position, bytes);
      },
      close: async () => {
        calls.push('close');
      },
      abort: async () => {
        calls.push('abort');
      },
    };
    await expect(
      writeActivations(model, [randomIds(6, 1), randomIds(6, 2), randomIds(6, 3)], {
        names: ['hook_embed', 'blocks.0.hook_resid_post'],
        sink: failing,
        tokensPerStep: 6,
      }),
    ).rejects.toThrow(/ENOSPC/);
    expect(calls).toEqual(['abort']);

    const controller = new AbortController();
    const sink = memorySink();
    let steps = 0;
    await expect(
      writeActivations(model, [randomIds(4, 1), randomIds(4, 2), randomIds(4, 3)], {
        names: ['hook_embed'],
        sink,
        tokensPerStep: 4,
        signal: controller.signal,
        onProgress: () => {
          if (++steps === 1) controller.abort(new Error('stopped by the user'));
        },
      }),
    ).rejects.toThrow(/stopped by the user/);
    expect(sink.state).toBe('aborted');
  });
});

describe('resolveActivationNames', () => {
  it('expands globs in the model order, keeps the order given, and drops repeats', () => {
    const config = model.config;
    expect(
      resolveActivationNames(config, [
        'blocks.1.hook_mlp_out',
        'blocks.*.hook_mlp_out',
        'hook_embed',
      ]),
    ).toEqual(['blocks.1.hook_mlp_out', 'blocks.0.hook_mlp_out', 'hook_embed']);
    const attention = resolveActivationNames(config, ['blocks.0.attn.*']);
    expect(attention).toEqual(
      expect.arrayContaining([
        'blocks.0.attn.hook_q',
        'blocks.0.attn.hook_k',
        'blocks.0.attn.hook_v',
        'blocks.0.attn.hook_z',
      ]),
    );
    // A glob leaves out the hook points without a position axis; named alone they are refused.
    expect(attention.filter((n) => /hook_(pattern|attn_scores)$/.test(n))).toEqual([]);
    expect(resolveActivationNames(config, ['*.ln?.hook_normalized'.replace('?', '1')])).toEqual([
      'blocks.0.ln1.hook_normalized',
      'blocks.1.ln1.hook_normalized',
    ]);
  });
});
