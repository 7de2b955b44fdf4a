import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createDevice, type Device } from '@pythiajs/tensor-core';
import { Tokenizer } from '@pythiajs/tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type GeneratedToken,
  generate,
  NeoXModel,
  type StopReason,
  type TokenizerLike,
} from '../src/index.js';
import { fixtureFolder, golden } from './golden.js';

const tokenizer = Tokenizer.fromJSON(
  readFileSync(
    createRequire(import.meta.url).resolve('@pythiajs/tokenizer/gpt-neox-20b.json'),
    'utf8',
  ),
);
let device: Device;
let model: NeoXModel;
const [hello] = golden('tiny-neox-f16'); // "Hello, I am"

beforeAll(async () => {
  device = await createDevice();
  model = await NeoXModel.load({ folder: fixtureFolder('tiny-neox-f16') }, { device });
});
afterAll(() => {
  model?.dispose();
  device?.destroy();
});

async function collect(iterator: AsyncGenerator<GeneratedToken, StopReason>) {
  const tokens: GeneratedToken[] = [];
  for (;;) {
    const next = await iterator.next();
    if (next.done)
      return {
        tokens,
        reason: next.value,
        ids: tokens.map((t) => t.id),
        text: tokens.map((t) => t.text).join(''),
      };
    tokens.push(next.value);
  }
}

describe('generate', () => {
  it('streams the reference greedy tokens for "Hello, I am", with their text', async () => {
    const run = await collect(
      generate(model, { text: hello!.text!, tokenizer, temperature: 0, maxNewTokens: 8 }),
    );
    expect(run.ids).toEqual(hello!.greedy);
    expect(run.reason).toBe('length');
    expect(run.text).toBe(tokenizer.decode(hello!.greedy));
    for (const t of run.tokens) expect(t.logprob).toBeLessThan(0);
  });

  it('never produces ids the tokenizer lacks unless told to', async () => {
    // A tokenizer that knows only the first 1000 ids: sampling hot, every id stays below.
    const small: TokenizerLike = {
      ...tokenizer,
      encode: (t) => tokenizer.encode(t),
      createStreamDecoder: () => tokenizer.createStreamDecoder(),
      vocabSize: 1000,
      eosTokenId: 0,
    };
    const run = await collect(
      generate(model, {
        ids: hello!.ids,
        tokenizer: small,
        temperature: 3,
        seed: 1,
        maxNewTokens: 24,
      }),
    );
    expect(run.ids.length).toBeGreaterThan(0);
    expect(run.ids.every((id) => id < 1000)).toBe(true);
    const unmasked = await collect(
      generate(model, {
        ids: hello!.ids,
        tokenizer: small,
        temperature: 3,
        seed: 1,
        maxNewTokens: 24,
        maskUnknownTokens: false,
      }),
    );
    expect(unmasked.ids.some((id) => id >= 1000)).toBe(true);
  });

  it('applies history-based processors: a strong repetition penalty never repeats a token', async () => {
    const run = await collect(
      generate(model, { ids: hello!.ids, temperature: 0, repetitionPenalty: 1e4, maxNewTokens: 8 }),
    );
    const seen = [...hello!.ids, ...run.ids];
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('ends on EOS, yielding it without text', async () => {
    const eos = hello!.greedy[2]!;
    const run = await collect(
      generate(model, {
        ids: hello!.ids,
        tokenizer,
        temperature: 0,
        maxNewTokens: 8,
        eosTokenId: eos,
      }),
    );
    expect(run.ids).toEqual(hello!.greedy.slice(0, 3));
    expect(run.reason).toBe('eos');
  });

  it('ends before a stop string, which is not part of the text', async () => {
    const full = tokenizer.decode(hello!.greedy);
    const third = tokenizer.decode(hello!.greedy.slice(0, 3));
    const stopAt = full.slice(third.length - 2, third.length + 1);
    const run = await collect(
      generate(model, {
        ids: hello!.ids,
        tokenizer,
        temperature: 0,
        maxNewTokens: 8,
        stop: [stopAt],
      }),
    );
    expect(run.reason).toBe('stop');
    expect(run.text).toBe(full.slice(0, full.indexOf(stopAt)));
  });

  it('ends when aborted', async () => {
    const controller = new AbortController();
    const iterator = generate(model, {
      ids: hello!.ids,
      temperature: 0,
      maxNewTokens: 8,
      signal: controller.signal,
    });
    await iterator.next();
    await iterator.next();
    controller.abort();
    const end = await iterator.next();
    expect(end).toEqual({ done: true, value: 'abort' });
  });

  it('repeats itself for one seed and rejects impossible requests', async () => {
    const a = await collect(
      generate(model, { ids: hello!.ids, temperature: 1, topP: 0.9, seed: 7, maxNewTokens: 6 }),
    );
    const b = await collect(
      generate(model, { ids: hello!.ids, temperature: 1, topP: 0.9, seed: 7, maxNewTokens: 6 }),
    );
    expect(a.ids).toEqual(b.ids);
    await expect(collect(generate(model, { ids: hello!.ids, maxNewTokens: -1 }))).rejects.toThrow(
      /maxNewTokens must be a positive integer/,
    );
    await expect(collect(generate(model, { ids: [] }))).rejects.toThrow(/prompt is empty/);
    await expect(collect(generate(model, { ids: new Array(2049).fill(5) }))).rejects.toThrow(
      /the input is 2049 tokens but the model reads at most 2048 here \(its context is 2048\)/,
    );
  });
});
