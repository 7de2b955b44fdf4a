// A downstream Node program that uses every package through its published entry points. The
// consumer check compiles it strictly and runs it on the machine's adapter; it prints one JSON
// object, which the check compares with known values.
//
//   node dist/node.js <tiny-neox-f16 folder> <empty cache folder>
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openCheckpoint, parseModelRef } from '@pythiajs/checkpoint-hub';
import { NodeHubCache } from '@pythiajs/checkpoint-hub/node';
import { FakeHub } from '@pythiajs/checkpoint-hub/testing';
import { NeoXModel } from '@pythiajs/neox-model';
import { createSampler } from '@pythiajs/sampler';
import { add, createDevice, gelu, type Tensor } from '@pythiajs/tensor-core';
import { geluReference } from '@pythiajs/tensor-core/reference';
import { Tokenizer } from '@pythiajs/tokenizer';

const [fixture, cacheDir] = process.argv.slice(2);
if (!fixture || !cacheDir) throw new Error('usage: node dist/node.js <fixture folder> <cache>');

// @pythiajs/tokenizer, with the tokenizer.json it ships.
const tokenizerJson = new URL(import.meta.resolve('@pythiajs/tokenizer/gpt-neox-20b.json'));
const tokenizer = Tokenizer.fromJSON(await readFile(tokenizerJson, 'utf8'));
const ids: number[] = tokenizer.encode('Hello, I am');

// @pythiajs/checkpoint-hub: a suite reference, and a checkpoint downloaded into the Node cache
// from the package's own local stand-in for the Hub.
const ref = parseModelRef('pythia-70m-deduped@step3000');
const commit = 'c'.repeat(40);
const hub = await new FakeHub({
  'EleutherAI/pythia-tiny': {
    branches: { main: commit },
    commits: {
      [commit]: {
        'config.json': await readFile(join(fixture, 'config.json')),
        'model.safetensors': await readFile(join(fixture, 'model.safetensors')),
      },
    },
  },
}).start();
process.env.HF_ENDPOINT = hub.hubOrigin;
const checkpoint = await openCheckpoint(
  'EleutherAI/pythia-tiny',
  'main',
  new NodeHubCache({ dir: cacheDir }),
);
const embedIn = checkpoint.expect('gpt_neox.embed_in.weight', [50304, 32]);
const hubResult = { format: checkpoint.format, commit: checkpoint.commit, embedIn: embedIn.shape };
await checkpoint.close();
await hub.stop();

// @pythiajs/tensor-core: one op on the adapter, next to its CPU reference.
const device = await createDevice();
const x: Tensor<'f32'> = device.tensor(new Float32Array([-2, -1, 0, 1, 2]));
const y = gelu(add(x, x));
const values: Float32Array = await y.read();
x.dispose();
y.dispose();

// @pythiajs/neox-model and @pythiajs/sampler: the fixture's next token after the prompt.
const model = await NeoXModel.load({ folder: fixture }, { device });
const logits = await model.forward(ids, { logits: 'last' });
const next = createSampler({ temperature: 0 })(logits);
model.dispose();
device.destroy();

console.log(
  JSON.stringify({
    ids,
    text: tokenizer.decode(ids),
    ref,
    hub: hubResult,
    gelu: [...values],
    geluReference: [...geluReference([-4, -2, 0, 2, 4])],
    vocab: logits.length,
    next: next.id,
  }),
);
