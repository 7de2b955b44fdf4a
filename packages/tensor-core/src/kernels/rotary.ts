import { packingBindingWgsl } from './packing.js';
import { sincosWgsl } from './sincos.js';

/**
 * The uniform block shared by the rotary kernels: sizes, the position of row 0 (unused by the
 * packing variants, which read each row's position from their table), then the inverse
 * frequencies inv_freq[i] (i < rotary_dims/2 ≤ 128) packed four per vec4 (uniform arrays have a
 * 16-byte stride). `rotaryParamsBytes` must match.
 */
export const rotaryParamsWgsl = /* wgsl */ `struct Params {
  tokens: u32, heads: u32, head_dim: u32, rotary_dims: u32,
  position_offset: u32, max_positions: u32, _pad0: u32, _pad1: u32,
  inv_freq: array<vec4f, 32>,
}
fn inv_freq(i: u32) -> f32 { return params.inv_freq[i >> 2u][i & 3u]; }

// GPT-NeoX rotate-half RoPE of element d of a head vector at 'position': pairs d with d ± half
// (half = rotary_dims/2), angle = f32(position) * inv_freq[d mod half] rounded to f32, so the CPU
// reference can form the identical angle. 'v' is element d, 'partner' element d ± half.
fn rope(v: f32, partner: f32, d: u32, position: u32) -> f32 {
  let half = params.rotary_dims / 2u;
  if (d >= params.rotary_dims) {
    return v;
  }
  let sc = sincos(f32(position) * inv_freq(d % half));
  if (d < half) {
    return v * sc.y - partner * sc.x;
  }
  return v * sc.y + partner * sc.x;
}
`;

/** Bytes of the rotary `Params` uniform block. */
export const rotaryParamsBytes = 32 + 32 * 16;

/**
 * Rotary position embedding (GPT-NeoX, partial, rotate-half): for x f32 [T, H, D] row-major and
 * y f32 [T, H, D], with r = rotary_dims, h = r/2, position p = position_offset + t (`packed`:
 * p = packing[t].y, see packing.ts) and θ_i = f32(p)·inv_freq_i:
 *   y[d] = x[d]·cos θ_d − x[d+h]·sin θ_d          for d < h
 *   y[d] = x[d]·cos θ_{d−h} + x[d−h]·sin θ_{d−h}   for h ≤ d < r
 *   y[d] = x[d]                                    for d ≥ r.
 * One invocation per element, 2D workgroup grid as in `add`.
 */
export function rotaryWgsl(packed: boolean): string {
  const table = packed ? `${packingBindingWgsl(2)}\n` : '';
  const position = packed ? 'packing[t].y' : 'params.position_offset + t';
  return /* wgsl */ `// rotary: GPT-NeoX rotate-half RoPE on the first rotary_dims of each head; x, y f32 [T,H,D]
${sincosWgsl}
${rotaryParamsWgsl}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
${table}@group(0) @binding(${packed ? 3 : 2}) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.tokens * params.heads * params.head_dim) {
    return;
  }
  let d = i % params.head_dim;
  let t = i / (params.heads * params.head_dim);
  let half = params.rotary_dims / 2u;
  var partner = 0.0;
  if (d < half) {
    partner = x[i + half];
  } else if (d < params.rotary_dims) {
    partner = x[i - half];
  }
  y[i] = rope(x[i], partner, d, ${position});
}
`;
}
