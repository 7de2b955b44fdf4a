// The evaluation benchmark (`pnpm bench`, or `pnpm --filter @pythiajs/neox-model bench`):
// lm-evaluation-harness loglikelihood requests scored by `scoreContinuations` on a random-weight
// model at the real pythia-70m shape in f16 (`--full` adds 160m), for documents
// shaped like each task's (context and choice lengths in tokens, typical of the real datasets
// with the GPT-NeoX-20B tokenizer). Each shape is measured three ways in the same run:
//
// - shared: `scoreContinuations`, the context run once per document;
// - unshared: every request's whole window run on its own (`scoreTokens` on context + choice),
//   as the harness runs them: the same numbers, more tokens;
// - prefill: one packed pass over as many tokens as the shared path forwards, scored the same
//   way: the rate the shared path's tokens could go at without its chunking and cache copies.
//
// Prints documents/s, forwarded tokens/s, the ratios shared/unshared (documents/s) and
// shared/prefill (tokens/s), and one JSON line.
import { performance } from 'node:perf_hooks';
import { createDevice } from '@pythiajs/tensor-core';
import {
  type ContinuationRequest,
  NeoXModel,
  pythiaConfig,
  randomCheckpoint,
  scoreContinuations,
  scoreTokens,
} from '../src/index.js';

const args = process.argv.slice(2);
const sizes = args.includes('--full') ? ['pythia-70m', 'pythia-160m'] : ['pythia-70m'];
const DOCUMENTS = Number(args[args.indexOf('--documents') + 1] ?? 0) || 16;

/** A task's documents as token counts: one context, `choices` continuations of `choice` ids. */
interface Shape {
  task: string;
  context: number;
  choices: number;
  choice: number;
}

// Typical lengths (GPT-NeoX-20B tokens) of the real tasks' prompts and choices.
const SHAPES: Shape[] = [
  { task: 'lambada_openai', context: 80, choices: 1, choice: 2 },
  { task: 'piqa', context: 14, choices: 2, choice: 20 },
  { task: 'arc_easy', context: 28, choices: 4, choice: 5 },
  { task: 'sciq', context: 110, choices: 4, choice: 3 },
  { task: 'logiqa', context: 220, choices: 4, choice: 20 },
];

/** Deterministic ids below `vocab`, different for every document, context and choice. */
function requestsOf(shape: Shape, documents: number, vocab: number): ContinuationRequest[] {
  let seed = 12345;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % vocab;
  };
  const requests: ContinuationRequest[] = [];
  for (let d = 0; d < documents; d++) {
    const context = Array.from({ length: shape.context }, next);
    for (let c = 0; c < shape.choices; c++) {
      const continuation = Array.from({ length: shape.choice }, next);
      requests.push({ input: [...context, ...continuation].slice(0, -1), continuation });
    }
  }
  return requests;
}

/** Milliseconds `f` takes. */
async function timed(f: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await f();
  return performance.now() - start;
}

const round = (x: number, digits = 1) => Number(x.toFixed(digits));

interface Row {
  model: string;
  task: string;
  documents: number;
  shared_docs_per_s: number;
  unshared_docs_per_s: number;
  shared_tokens_per_s: number;
  prefill_tokens_per_s: number;
  shared_over_unshared: number;
  shared_over_prefill: number;
  max_relative_difference: number;
}

const rows: Row[] = [];
console.log(
  `loglikelihood requests, ${DOCUMENTS} documents per task shape, f16 random weights (docs/s; tokens/s forwarded)`,
);
console.log(
  'model         task            shared docs/s  unshared docs/s  shared/unshared  shared tok/s  prefill tok/s  shared/prefill',
);
function print(r: Row): void {
  console.log(
    `${r.model.padEnd(13)} ${r.task.padEnd(15)} ${String(r.shared_docs_per_s).padEnd(14)} ${String(r.unshared_docs_per_s).padEnd(16)} ${String(r.shared_over_unshared).padEnd(16)} ${String(r.shared_tokens_per_s).padEnd(13)} ${String(r.prefill_tokens_per_s).padEnd(14)} ${r.shared_over_prefill}`,
  );
}
for (const size of sizes) {
  const config = pythiaConfig(size);
  const device = await createDevice({ throttleDawnPolling: true });
  const model = await NeoXModel.fromCheckpoint(randomCheckpoint(config, { dtype: 'F16' }), {
    device,
    dtype: 'f16',
  });
  const vocab = Math.min(config.vocabSize, 50257);
  for (const shape of SHAPES) {
    // Warm-up on two documents: compiles the pipelines of both paths for this shape.
    const warm = requestsOf(shape, 2, vocab);
    await scoreContinuations(model, warm, { vocabSize: vocab });
    await scoreTokens(
      model,
      warm.map((r) => [...Array.from(r.input), r.continuation[r.continuation.length - 1]!]),
    );
    const requests = requestsOf(shape, DOCUMENTS, vocab);
    const whole = requests.map((r) => [
      ...Array.from(r.input),
      r.continuation[r.continuation.length - 1]!,
    ]);
    // What each path forwards: shared, one context per document and each choice's ids after
    // its first; unshared, every request's whole input.
    const sharedTokens = DOCUMENTS * (shape.context + shape.choices * (shape.choice - 1));
    let shared: Awaited<ReturnType<typeof scoreContinuations>> = [];
    const sharedMs = await timed(async () => {
      shared = await scoreContinuations(model, requests, { vocabSize: vocab });
    });
    let unshared: Awaited<ReturnType<typeof scoreTokens>> = [];
    const unsharedMs = await timed(async () => {
      unshared = await scoreTokens(model, whole);
    });
    // The same numbers both ways: the last n scores of each whole window are the request's.
    let difference = 0;
    requests.forEach((r, i) => {
      const n = r.continuation.length;
      const logprob = unshared[i]!.logprob.slice(-n).reduce((a, b) => a + b, 0);
      difference = Math.max(difference, Math.abs(logprob - shared[i]!.logprob) / Math.abs(logprob));
    });
    // A packed pass over the shared path's token count, in sequences of the context's length.
    const packed: number[][] = [];
    for (let left = sharedTokens; left > 0; left -= shape.context) {
      packed.push(whole[packed.length % whole.length]!.slice(0, Math.min(left, shape.context)));
    }
    const prefillMs = await timed(() => scoreTokens(model, packed));
    const sharedRate = (sharedTokens * 1000) / sharedMs;
    const prefillRate = (sharedTokens * 1000) / prefillMs;
    const row: Row = {
      model: size,
      task: shape.task,
      documents: DOCUMENTS,
      shared_docs_per_s: round((DOCUMENTS * 1000) / sharedMs, 2),
      unshared_docs_per_s: round((DOCUMENTS * 1000) / unsharedMs, 2),
      shared_tokens_per_s: round(sharedRate),
      prefill_tokens_per_s: round(prefillRate),
      shared_over_unshared: round(unsharedMs / sharedMs, 2),
      shared_over_prefill: round(sharedRate / prefillRate, 2),
      max_relative_difference: Number(difference.toExponential(2)),
    };
    rows.push(row);
    print(row);
  }
  model.dispose();
  device.destroy();
}

const worst = Math.max(...rows.map((r) => r.max_relative_difference));
console.log(
  `shared and unshared logprobs agree within ${worst.toExponential(2)} relative (f16 weights)`,
);
console.log(JSON.stringify({ bench: 'eval-requests', results: rows }));
