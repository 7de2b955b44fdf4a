import { readFileSync } from 'node:fs';
import { openCheckpoint } from '@pythiajs/checkpoint-hub';
import { LocalFolderStore } from '@pythiajs/checkpoint-hub/node';
import { createDevice } from '@pythiajs/tensor-core';
import { NeoXModel, pythiaConfig, randomCheckpoint } from '../src/index.js';
import { held } from './quantized-checkpoints.js';

const rss = () => {
  const s = readFileSync('/proc/self/status', 'utf8');
  return `${(Number(/VmRSS:\s+(\d+)/.exec(s)![1]) / 1e6).toFixed(2)} GB (shmem ${(Number(/RssShmem:\s+(\d+)/.exec(s)![1]) / 1e6).toFixed(3)})`;
};
const device = await createDevice({ throttleDawnPolling: process.env.THROTTLE === '1' });
const size = process.argv[2] ?? 'pythia-410m';
const ck = size.startsWith('/')
  ? await openCheckpoint(size, 'local', new LocalFolderStore())
  : held(randomCheckpoint(pythiaConfig(size), { dtype: 'F16' }));
const ids = Array.from(
  { length: Number(process.argv[5] ?? 64) },
  (_, i) => (i * 7919 + 13) % 50277,
);
for (const dtype of (process.argv[3] ?? 'f16,q8,q4').split(',') as ('f16' | 'q8' | 'q4')[]) {
  const model = await NeoXModel.fromCheckpoint(ck, { device, dtype });
  console.log(dtype, 'loaded', rss(), 'weights', (model.weights.bytes / 1e9).toFixed(2));
  for (let r = 0; r < Number(process.argv[6] ?? 1); r++)
    await model.forward(ids, { logits: 'all' });
  console.log(' forward', rss());
  await new Promise((r) => setTimeout(r, Number(process.argv[4] ?? 0)));
  model.dispose();
  await device.trimPool();
  console.log(' disposed+trim', rss(), 'allocated', (device.stats.bytesAllocated / 1e9).toFixed(3));
}
