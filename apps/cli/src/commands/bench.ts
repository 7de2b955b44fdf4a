import { PYTHIA_MODELS } from '@pythiajs/checkpoint-hub';
import {
  estimateMemory,
  generate,
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
  checkModelMemory,
  loadModel,
  type ModelOptions,
  openDevice,
  resolveModel,
} from '../model-options.js';
import { formatTable } from '../table.js';

interface BenchOptions extends ModelOptions {
  random?: string;
  prefill: number;
  decode: number;
  json?: boolean;
}

export function registerBench(program: Command): void {
  const command = program
    .command('bench')
    .description(
      "load a model, prefill 128 tokens, decode 64, and compare with the adapter's streaming-read bandwidth",
    )
    .option(
      '--random <name>',
      'seeded random weights at the real shapes of a Pythia model (pythia-70m …), no download',
    )
    .option('--prefill <n>', 'prompt tokens', integerOption('prefill', 1), 128)
    .option('--decode <n>', 'tokens decoded after the prompt', integerOption('decode', 1), 64)
    .option('--json', 'print one JSON line');
  addModelOptions(command).action(async (options: BenchOptions) => {
    const start = performance.now();
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
      checkLengths(options, config);
      // Random weights are made in the dtype asked for; `auto` makes them f16, as Pythia's are.
      const dtype = options.dtype === 'auto' ? 'f16' : options.dtype;
      await checkModelMemory(
        `random ${suite.name}`,
        config,
        { ...options, dtype },
        benchUse(options, config),
      );
      const device = await openDevice(options);
      model = await NeoXModel.fromCheckpoint(
        randomCheckpoint(config, { dtype: dtype === 'f32' ? 'F32' : 'F16' }),
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
        check: (config) => checkLengths(options, config),
        use: (config) => benchUse(options, config),
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
      // A fixed, varied prompt: ids spread over the vocabulary.
      const ids = Array.from({ length: options.prefill }, (_, i) => (i * 7919 + 13) % vocab);
      const run = (maxNewTokens: number) =>
        generate(model, {
          ids,
          temperature: 0,
          maxNewTokens,
          eosTokenId: null,
          maskUnknownTokens: false,
        });
      // Warm-up: compiles the pipelines of the prefill and decode shapes before anything is timed.
      for await (const _ of run(2));
      const readGbps = await measureReadBandwidth(device);
      const t0 = performance.now();
      let first = 0;
      let decoded = -1;
      for await (const _ of run(options.decode + 1)) {
        if (decoded === -1) first = performance.now();
        decoded++;
      }
      const end = performance.now();
      const weightBytes = estimateMemory(config, { dtype: model.dtype }).weights;
      const firstTokenMs = first - t0;
      const decodeTps = (decoded * 1000) / (end - first);
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
        prefill_tokens: options.prefill,
        prefill_tokens_per_s: round((options.prefill * 1000) / firstTokenMs, 4),
        first_token_ms: round(firstTokenMs, 4),
        decode_tokens: decoded,
        decode_tokens_per_s: round(decodeTps, 4),
        read_gb_s: round(readGbps, 4),
        // Decoding reads every weight once per token: how much of the adapter's bandwidth it uses.
        decode_bandwidth_fraction: round((weightBytes * decodeTps) / (readGbps * 1e9), 3),
      };
      if (options.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
      }
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
              `${result.first_token_ms.toFixed(1)} ms (prefill of ${options.prefill} tokens)`,
            ],
            ['prefill', `${result.prefill_tokens_per_s.toFixed(1)} tokens/s`],
            ['decode', `${result.decode_tokens_per_s.toFixed(1)} tokens/s (${decoded} tokens)`],
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

/** Generation over the prompt: a prefill of `--prefill` tokens and a KV cache of the context. */
function benchUse(options: BenchOptions, config: NeoXConfig) {
  return { tokens: options.prefill, contextLength: config.maxPositions };
}

function checkLengths(options: BenchOptions, config: NeoXConfig): void {
  if (options.prefill + options.decode > config.maxPositions) {
    throw new UsageError(
      `--prefill ${options.prefill} + --decode ${options.decode} exceed the context of ${config.maxPositions} tokens`,
    );
  }
}
