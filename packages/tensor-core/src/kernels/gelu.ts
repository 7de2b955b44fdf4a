import { erfWgsl } from './erf.js';

/** WGSL `gelu(v: f32) -> f32`, the exact form (needs {@link erfWgsl}); see `geluErfWgsl`. */
export const geluFnWgsl = /* wgsl */ `fn gelu(v: f32) -> f32 {
  if (v < 0.0) {
    return 0.5 * v * erfc_abs_over_sqrt2(v);
  }
  return 0.5 * v * (1.0 + erf(v * 0.70710678118654752));
}
`;

/** WGSL `gelu_tanh(v: f32) -> f32`; see `geluTanhWgsl`. */
export const geluTanhFnWgsl = /* wgsl */ `fn gelu_tanh(v: f32) -> f32 {
  let u = 0.7978845608028654 * (v + 0.044715 * v * v * v);
  return v / (1.0 + exp(-2.0 * u));
}
`;

/**
 * Exact GELU: y = 0.5·x·(1 + erf(x/√2)). For x < 0 it is evaluated as 0.5·x·erfc(|x|/√2), which
 * keeps the relative error < 1e-6 in the negative tail where 1 + erf cancels.
 * x, y: contiguous f32 [n], one invocation per element, 2D workgroup grid as in `add`.
 */
export const geluErfWgsl = /* wgsl */ `// gelu (erf): y = 0.5 x (1 + erf(x / sqrt2)), f32 [n]
${erfWgsl}
struct Params { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
${geluFnWgsl}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < params.n) {
    y[i] = gelu(x[i]);
  }
}
`;

/**
 * Tanh-approximated GELU: y = 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³), evaluated as
 * the identical x / (1 + exp(−2u)): no cancellation for x < 0, and no inf/inf where tanh is
 * built from exponentials. x, y: contiguous f32 [n], layout as in `add`.
 */
export const geluTanhWgsl = /* wgsl */ `// gelu (tanh): y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), f32 [n]
struct Params { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
${geluTanhFnWgsl}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < params.n) {
    y[i] = gelu_tanh(x[i]);
  }
}
`;
