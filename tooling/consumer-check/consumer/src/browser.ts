// A downstream browser entry, bundled by Vite: the main entries of every package (none of their
// Node-only subpaths). In the page it tokenizes, samples and runs one op on WebGPU, and puts the
// results in the document for the check to read.
import { parseModelRef } from '@pythiajs/checkpoint-hub';
import { NeoXModel } from '@pythiajs/neox-model';
import { createSampler } from '@pythiajs/sampler';
import { add, createDevice } from '@pythiajs/tensor-core';
import { Tokenizer } from '@pythiajs/tokenizer';
import tokenizerJson from '@pythiajs/tokenizer/gpt-neox-20b.json';

async function main(): Promise<unknown> {
  const ids = Tokenizer.fromJSON(tokenizerJson).encode('Hello, I am');
  const next = createSampler({ temperature: 0 })(Float32Array.from([1, 3, 2, 0.5])).id;
  const device = await createDevice();
  const x = device.tensor(new Float32Array([1, 2, 3]));
  const sum = [...(await add(x, x).read())];
  device.destroy();
  return {
    ids,
    next,
    ref: parseModelRef('pythia-160m@step1000'),
    sum,
    canLoadModels: typeof NeoXModel.load === 'function',
  };
}

main().then(
  (result) => {
    document.body.dataset.result = JSON.stringify(result);
  },
  (error: unknown) => {
    document.body.dataset.error = String(error);
  },
);
