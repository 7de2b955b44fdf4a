/**
 * Lines Dawn (the WebGPU implementation in Node) prints itself, which are no output of the CLI.
 *
 * Dawn clamps two adapter limits to its own maximum (16) when a Vulkan driver reports more —
 * Mesa's lavapipe reports 1000000, RADV 500000 — and says so with `fprintf(stderr)` during
 * adapter discovery, the first `requestAdapter` of a Dawn instance, whatever limits the device
 * then requests:
 *
 *     Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
 *     Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
 *
 * Dawn has no switch for them, and the kernels use no dynamic offsets, so the clamp costs
 * nothing; the CLI drops exactly these lines and lets any other line of Dawn through.
 */
const LIMIT_CLAMPED =
  /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

export function isDawnNotice(line: string): boolean {
  return LIMIT_CLAMPED.test(line);
}
