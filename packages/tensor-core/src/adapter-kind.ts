import type { AdapterInfo } from './device.js';

/**
 * True for adapters that run shaders on the CPU: Mesa's llvmpipe/lavapipe (Dawn reports vendor
 * `mesa`, architecture `software`, a description starting `llvmpipe`) and SwiftShader (vendor
 * `google`, architecture `swiftshader`, Chrome's fallback adapter). Browsers may blank the
 * fields, which reads as a GPU. Kernels without workgroup memory whose lanes share loads through
 * subgroupShuffle (gemm-lanes, attention-lanes) are chosen for these.
 */
export function isCpuAdapter(info: AdapterInfo): boolean {
  const text = `${info.architecture} ${info.description} ${info.device}`.toLowerCase();
  return (
    /\b(swiftshader|llvmpipe|lavapipe|softpipe)\b/.test(text) ||
    info.architecture.toLowerCase() === 'software' ||
    info.architecture.toLowerCase() === 'cpu'
  );
}
