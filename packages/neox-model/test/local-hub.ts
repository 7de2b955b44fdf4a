import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeHub } from '@pythiajs/checkpoint-hub/testing';
import { safetensorsOf } from '@pythiajs/vitest-config/safetensors';
import { parseNeoXConfig, randomCheckpoint } from '../src/index.js';

/**
 * What the documentation's examples load, pythia-70m-deduped@step3000, served by a local Hub:
 * pythia-70m's 6 layers, 8 heads and real vocabulary, but a width of 64 (random weights), so
 * that it loads in moments on lavapipe. `env` points an example's process at it.
 */
export async function servePythia70m(): Promise<{
  env: Record<string, string | undefined>;
  stop(): Promise<void>;
}> {
  const commit = '3'.repeat(40);
  const checkpoint = randomCheckpoint(
    parseNeoXConfig({
      hidden_size: 64,
      num_attention_heads: 8,
      num_hidden_layers: 6,
      intermediate_size: 256,
      vocab_size: 50304,
      rotary_pct: 0.25,
      max_position_embeddings: 2048,
      use_parallel_residual: true,
      hidden_act: 'gelu',
    }),
    { seed: 70 },
  );
  const cache = mkdtempSync(join(tmpdir(), 'example-model-cache-'));
  const hub = await new FakeHub({
    'EleutherAI/pythia-70m-deduped': {
      branches: { step3000: commit },
      commits: {
        [commit]: {
          'config.json': JSON.stringify(checkpoint.config),
          'model.safetensors': await safetensorsOf(checkpoint),
        },
      },
    },
  }).start();
  return {
    env: { HF_ENDPOINT: hub.hubOrigin, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: undefined },
    async stop() {
      await hub.stop();
      rmSync(cache, { recursive: true, force: true });
    },
  };
}
