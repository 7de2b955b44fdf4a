import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeHub } from '@pythiajs/checkpoint-hub/testing';
import { NARROW_PYTHIA_70M } from '@pythiajs/vitest-config/narrow-pythia';
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
  const checkpoint = randomCheckpoint(parseNeoXConfig(NARROW_PYTHIA_70M), { seed: 70 });
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
