// Dev-only: runs the peer (ONNX Runtime WebGPU) once and prints its figures, to check peer.ts end
// to end. `tsx apps/cli/bench/peer-check.ts [size]` (default pythia-70m), 128-token prompt, 16 decoded.
import { peerBench } from './peer.js';

const size = process.argv[2] ?? 'pythia-70m';
const start = performance.now();
const result = await peerBench({
  size,
  promptTokens: 128,
  decode: 16,
  log: (line) => console.error(`[peer] ${line}`),
});
const total_s = +((performance.now() - start) / 1000).toFixed(1);
console.log(JSON.stringify({ size, ...result, total_s }));
if ('skipped' in result) process.exitCode = 1;
