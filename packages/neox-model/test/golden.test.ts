import { createDevice, type Device } from '@pythiajs/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HookRunner, NeoXModel } from '../src/index.js';
import {
  argmax,
  FIXTURES,
  fixtureFolder,
  golden,
  logitTolerance,
  logSoftmaxAt,
  maxAbsDiff,
} from './golden.js';

let device: Device;
beforeAll(async () => {
  device = await createDevice();
});
afterAll(() => device?.destroy());

for (const fixture of FIXTURES) {
  for (const dtype of ['f32', 'f16'] as const) {
    describe(`${fixture} with ${dtype} weights matches the float64 Hugging Face reference`, () => {
      let model: NeoXModel;
      const cases = golden(fixture);
      beforeAll(async () => {
        model = await NeoXModel.load({ folder: fixtureFolder(fixture) }, { device, dtype });
      });
      afterAll(() => model?.dispose());

      it('gives the logits of every position within 2e-3 × max(1, max|logit|)', async () => {
        const vocab = model.config.vocabSize;
        for (const c of cases) {
          const logits = await model.forward(c.ids);
          const last = logits.subarray((c.ids.length - 1) * vocab);
          expect(maxAbsDiff(last, c.logits_last)).toBeLessThanOrEqual(
            logitTolerance(c.logits_last),
          );
          c.logits_head.forEach((head, t) => {
            const row = logits.subarray(t * vocab, t * vocab + head.length);
            expect(maxAbsDiff(row, head)).toBeLessThanOrEqual(logitTolerance(c.logits_last));
          });
          // Top-5 per position: the same ids, except where the reference's gap is within tolerance.
          c.top5.forEach((expected, t) => {
            const row = logits.subarray(t * vocab, (t + 1) * vocab);
            const ours = Array.from(row.keys())
              .sort((a, b) => row[b]! - row[a]! || a - b)
              .slice(0, 5);
            expect(ours[0]).toBe(expected[0]);
            expect(new Set(ours)).toEqual(new Set(expected));
          });
          c.token_logprobs.forEach((lp, t) => {
            const row = logits.subarray(t * vocab, (t + 1) * vocab);
            expect(Math.abs(logSoftmaxAt(row, c.ids[t + 1]!) - lp)).toBeLessThanOrEqual(
              2e-3 * Math.max(1, Math.abs(lp)),
            );
          });
        }
      });

      it('has the reference residual stream after the embedding and after every block', async () => {
        for (const c of cases) {
          const reads: Array<Promise<Float32Array>> = [];
          const names = [
            'hook_embed',
            ...Array.from(
              { length: model.config.numLayers },
              (_, l) => `blocks.${l}.hook_resid_post`,
            ),
          ];
          const hooks: HookRunner = {
            wants: (name) => names.includes(name),
            visit: (name, t) => {
              reads[names.indexOf(name)] = t.read();
              return t;
            },
          };
          await model.forward(c.ids, { hooks });
          const hidden = model.config.hiddenSize;
          const rows = await Promise.all(reads);
          expect(rows).toHaveLength(c.hidden_last_token.length);
          rows.forEach((row, i) => {
            const last = row.subarray((c.ids.length - 1) * hidden, (c.ids.length - 1) * hidden + 8);
            const reference = c.hidden_last_token[i]!;
            expect(maxAbsDiff(last, reference)).toBeLessThanOrEqual(
              2e-3 * Math.max(1, ...reference.map(Math.abs)),
            );
          });
        }
      });

      it('decodes the 8 greedy tokens of the reference, with and without the KV cache', async () => {
        const vocab = model.config.vocabSize;
        for (const c of cases) {
          // Recomputing the whole sequence at each step, as the reference did.
          const ids = [...c.ids];
          for (let step = 0; step < 8; step++) {
            const logits = await model.forward(ids, { logits: 'last' });
            ids.push(argmax(logits));
          }
          expect(ids.slice(c.ids.length)).toEqual(c.greedy);

          // Prefill once, then one token per step through the cache.
          const cache = model.createCache(c.ids.length + 8);
          let logits = await model.forward(c.ids, { cache, logits: 'last' });
          const cached: number[] = [];
          for (let step = 0; step < 8; step++) {
            cached.push(argmax(logits));
            if (step < 7) logits = await model.forward([cached.at(-1)!], { cache, logits: 'last' });
          }
          expect(cached).toEqual(c.greedy);
          expect(cache.length).toBe(c.ids.length + 7);
          cache.dispose();
          expect(vocab).toBe(c.logits_last.length);
        }
      });

      it('decodes through the cache to within 1e-4 of a full recompute', async () => {
        const c = cases.find((x) => x.ids.length >= 10)!;
        const full = await model.forward(c.ids);
        const vocab = model.config.vocabSize;
        const cache = model.createCache();
        await model.forward(c.ids.slice(0, 6), { cache });
        for (let t = 6; t < c.ids.length; t++) {
          const step = await model.forward([c.ids[t]!], { cache });
          expect(maxAbsDiff(step, full.subarray(t * vocab, (t + 1) * vocab))).toBeLessThanOrEqual(
            1e-4,
          );
        }
        cache.dispose();
      });
    });
  }
}
