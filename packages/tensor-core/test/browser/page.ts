// Bundled by esbuild for the browser test: runs kernels through navigator.gpu and hands the raw
// results back to Node, where they are checked against the CPU references.
import { add, createDevice, gelu } from '../../src/index.js';

async function run(a: number[], b: number[]) {
  const device = await createDevice();
  const x = device.tensor(new Float32Array(a));
  const y = device.tensor(new Float32Array(b));
  const sum = add(x, y);
  const activated = gelu(sum);
  const result = {
    environment: device.environment,
    shaderF16: device.features.shaderF16,
    adapter: device.adapterInfo,
    sum: Array.from(await sum.read()),
    gelu: Array.from(await activated.read()),
  };
  device.destroy();
  return result;
}

(globalThis as { runKernels?: typeof run }).runKernels = run;
