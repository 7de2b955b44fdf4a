import { PYTHIA_MODELS } from '@pythiajs/checkpoint-hub';
import {
  estimateMemory,
  type NeoXConfig,
  NeoXModel,
  pythiaConfig,
  randomCheckpoint,
} from '@pythiajs/neox-model';
import { measureReadBandwidth } from '@pythiajs/tensor-core';
import type { Command } from 'commander';

import { UsageError } from '../errors.js';
import { formatBytes, round } from '../format.js';
import { integerOption } from '../input.js';
import {
  addModelOptions,
  chooseDtype,
  loadModel,
  type ModelOptions,
  openDevice,
  resolveModel,
  sayDtypeNotice,
} from '../model-options.js';
import { formatTable } from '../table.js';
import { benchPrompts, runBatch } from '../throughput.js';

interface BenchOptions extends ModelOptions {
  random?: string;
  prefill?: number;
  promptTokens?: number;
  batch: number;
  decode: number;
  json?: boolean;
}

/** The one configuration a bench measures: `batch` sequences of `prompt` tokens, each decoding `decode`. */
interface BenchShape {
  batch: number;
  prompt: number;
  decode: number;
}

const DEFAULT_PROMPT_TOKENS = 128;

export function registerBench(program: Command): void {
  const command = program
    .command('bench')
    .description(
      "load a model, prefill 128 tokens and decode 64 (for each of --batch sequences, together), and compare with the adapter's streaming-read bandwidth",
    )
    .option(
      '--random <name>',
      'seeded random weights at the real shapes of a Pythia model (pythia-70m …), no download',
    )
    .option(
      '--prompt-tokens <t>',
      `prompt tokens of each sequence, prefilled in one step (default: ${DEFAULT_PROMPT_TOKENS})`,
      integerOption('prompt-tokens', 1),
    )
    .option('--prefill <n>', 'the same as --prompt-tokens', integerOption('prefill', 1))
    .option(
      '--decode <n>',
      'tokens each sequence decodes after its prompt',
      integerOption('decode', 1),
      64,
    )
    .option(
      '--batch <n>',
      'sequences prefilled and decoded together, as one packed batch with one KV cache; ' +
        'tokens/s are of all of them together',
      integerOption('batch', 1),
      1,
    )
    .option('--json', 'print one JSON line')
    .addHelpText(
      'after',
      [
        '',
        'decode_js_ms_per_step, the JavaScript ms per decode step: CPU time of the main thread',
        'per step (recording and submitting its kernels, waiting for and reading back the logits,',
        'picking the next tokens, garbage collection), from /proc/thread-self/schedstat on Linux,',
        "apart from the GPU driver's threads (on a software adapter, the GPU itself).",
      ].join('\n'),
    );
  addModelOptions(command).action(async (options: BenchOptions) => {
    const start = performance.now();
    const shape = benchShape(options);
    let model: NeoXModel;
    let source: { model: string; revision: string; commit: string };
    let dispose: () => void;
    if (options.random !== undefined) {
      const suite = PYTHIA_MODELS.find((m) => m.name === options.random);
      if (!suite) {
        throw new UsageError(
          `--random takes a Pythia model name (${PYTHIA_MODELS.map((m) => m.name).join(', ')}), not "${options.random}"`,
        );
      }
      const config = pythiaConfig(suite.name);
      checkLengths(shape, config);
      // Random weights are made f16, as Pythia's are, or f32 for --dtype f32; `auto` loads them
      // in f16 when that fits, else in q8 or q4 (as `loadModel` does a checkpoint).
      const own = options.dtype === 'f32' ? 'f32' : 'f16';
      const { dtype, notice } = await chooseDtype(
        `random ${suite.name}`,
        config,
        options,
        own,
        () => benchUse(shape),
      );
      sayDtypeNotice(notice);
      const device = await openDevice(options);
      model = await NeoXModel.fromCheckpoint(
        randomCheckpoint(config, { dtype: own === 'f32' ? 'F32' : 'F16' }),
        { device, dtype },
      ).catch((error: unknown) => {
        device.destroy();
        throw error;
      });
      source = { model: `random ${suite.name}`, revision: 'seed-0', commit: 'random' };
      dispose = () => {
        model.dispose();
        device.destroy();
      };
    } else {
      const loaded = await loadModel(await resolveModel(options), options, {
        check: (config) => checkLengths(shape, config),
        use: () => benchUse(shape),
      });
      model = loaded.model;
      source = {
        model: loaded.checkpoint.repo,
        revision: loaded.checkpoint.revision,
        commit: loaded.checkpoint.commit,
      };
      dispose = loaded.dispose;
    }
    const loadS = (performance.now() - start) / 1000;
    try {
      const { config, device } = model;
      const vocab = Math.min(config.vocabSize, 50277);
      const prompts = benchPrompts(shape.batch, shape.prompt, vocab);
      const readGbps = await measureReadBandwidth(device);
      // The bandwidth kernel's buffers are not the model's: out of the pool, so that the GPU
      // bytes measured below are the weights and what this configuration adds to them.
      await device.trimPool();
      // Warm-up: compiles the pipelines of the prefill and decode shapes, and fills the buffer
      // pool with the step's buffers and a cache of the same size, before anything is timed.
      const capacity = shape.prompt + shape.decode;
      await runBatch(model, prompts, 1, capacity);
      const run = await runBatch(model, prompts, shape.decode, capacity);
      const weightBytes = estimateMemory(config, {
        dtype: model.dtype,
        embedDtype: model.weights.embedIn.dtype === 'f32' ? 'f32' : 'f16',
      }).weights;
      const tokens = shape.batch * shape.decode;
      const decodeTps = (tokens * 1000) / run.decodeMs;
      const stepsPerS = (shape.decode * 1000) / run.decodeMs;
      const result = {
        model: source.model,
        revision: source.revision,
        commit: source.commit,
        dtype: model.dtype,
        adapter:
          device.adapterInfo.description ||
          `${device.adapterInfo.vendor} ${device.adapterInfo.architecture}`.trim(),
        adapter_vendor: device.adapterInfo.vendor,
        adapter_architecture: device.adapterInfo.architecture,
        load_s: round(loadS, 4),
        weight_bytes: weightBytes,
        batch: shape.batch,
        prefill_tokens: shape.prompt,
        prefill_tokens_per_s: round((shape.batch * shape.prompt * 1000) / run.firstTokenMs, 4),
        first_token_ms: round(run.firstTokenMs, 4),
        decode_tokens: shape.decode,
        decode_tokens_per_s: round(decodeTps, 4),
        decode_dispatches_per_step: round(run.dispatches / shape.decode, 4),
        decode_js_ms_per_step: round(run.jsMs / shape.decode, 4),
        decode_buffers_created: run.buffersCreated,
        gpu_bytes: run.gpuBytes,
        read_gb_s: round(readGbps, 4),
        // A decode step reads every weight once, whatever the batch: how much of the adapter's
        // bandwidth the steps use.
        decode_bandwidth_fraction: round((weightBytes * stepsPerS) / (readGbps * 1e9), 3),
      };
      if (options.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
      }
      const of = shape.batch > 1 ? ` × ${shape.batch} sequences` : '';
      const together = shape.batch > 1 ? ` (${shape.batch} sequences together)` : '';
      const each = shape.batch > 1 ? ' each' : '';
      process.stdout.write(
        formatTable(
          ['', ''],
          [
            [
              'model',
              `${result.model}@${result.revision} (${result.dtype}, ${formatBytes(weightBytes)} of weights)`,
            ],
            ['adapter', result.adapter],
            ['load', `${result.load_s.toFixed(2)} s`],
            [
              'first token',
              `${result.first_token_ms.toFixed(1)} ms (prefill of ${shape.prompt} tokens${of})`,
            ],
            ['prefill', `${result.prefill_tokens_per_s.toFixed(1)} tokens/s${together}`],
            [
              'decode',
              `${result.decode_tokens_per_s.toFixed(1)} tokens/s${together} (${shape.decode} tokens${each})`,
            ],
            [
              'decode step',
              `${result.decode_dispatches_per_step} dispatches, ${result.decode_js_ms_per_step.toFixed(2)} ms of JavaScript`,
            ],
            ['GPU memory', `${formatBytes(result.gpu_bytes)} of buffers at most`],
            ['read bandwidth', `${result.read_gb_s.toFixed(2)} GB/s (stream-read kernel)`],
            [
              'decode / bandwidth',
              `${(result.decode_bandwidth_fraction * 100).toFixed(1)}% of the read bandwidth (weights read per token × tokens/s)`,
            ],
          ],
        ).replace(/^.*\n/, ''),
      );
    } finally {
      dispose();
    }
  });
}

/** `--prompt-tokens` (or its other name, `--prefill`), `--batch` and `--decode`. */
function benchShape(options: BenchOptions): BenchShape {
  if (options.promptTokens !== undefined && options.prefill !== undefined)
    throw new UsageError('--prompt-tokens and --prefill are the same option; give one of them');
  return {
    batch: options.batch,
    prompt: options.promptTokens ?? options.prefill ?? DEFAULT_PROMPT_TOKENS,
    decode: options.decode,
  };
}

/** A batch of prompts and a KV cache of each one's prompt and decoded tokens. */
function benchUse(shape: BenchShape) {
  return {
    tokens: shape.prompt,
    contextLength: shape.prompt + shape.decode,
    sequences: shape.batch,
  };
}

function checkLengths(shape: BenchShape, config: NeoXConfig): void {
  if (shape.prompt + shape.decode > config.maxPositions) {
    throw new UsageError(
      `--prompt-tokens ${shape.prompt} + --decode ${shape.decode} exceed the context of ${config.maxPositions} tokens`,
    );
  }
}
