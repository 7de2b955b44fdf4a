import { packingBindingWgsl } from './packing.js';
import { rotaryParamsWgsl } from './rotary.js';
import { sincosWgsl } from './sincos.js';

/**
 * Fused attention input step of GPT-NeoX: split the query_key_value projection, apply rotary
 * embedding to q and k, append k and v to the KV cache.
 *
 * qkv f32 [T, H, 3, D] row-major (GPT-NeoX interleaves per head: q, k, v of head h are the three
 * D-long runs starting at (t·H + h)·3D). q f32 [T, H, D]. Caches f32 [H, P, D] with P =
 * max_positions: row (h, p) is contiguous, so attention reads each head's keys as one block.
 * For token t at position p and cache row c (one sequence: p = c = position_offset + t; `packed`:
 * (c − p, p) = packing[t], see packing.ts):
 *   q[t,h,d] = rope(qkv[t,h,0,·], d, p);  k_cache[h,c,d] = rope(qkv[t,h,1,·], d, p);
 *   v_cache[h,c,d] = qkv[t,h,2,d].
 * One invocation per (t, h, d), 2D workgroup grid as in `add`.
 */
export function splitQkvRotaryWgsl(packed: boolean): string {
  const table = packed ? `${packingBindingWgsl(4)}\n` : '';
  const position = packed
    ? 'let entry = packing[t]; // (cache_start, position)\n  let p = entry.y;'
    : 'let p = params.position_offset + t;';
  return /* wgsl */ `// split_qkv_rotary: qkv [T,H,3,D] -> q [T,H,D] (RoPE), k/v appended to caches [H,P,D]
${sincosWgsl}
${rotaryParamsWgsl}
@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(0) @binding(2) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(3) var<storage, read_write> v_cache: array<f32>;
${table}@group(0) @binding(${packed ? 5 : 4}) var<uniform> params: Params;

// The element d of a head vector starting at 'base' and its rotate-half partner.
fn partner_of(base: u32, d: u32) -> f32 {
  let half = params.rotary_dims / 2u;
  if (d < half) {
    return qkv[base + d + half];
  }
  if (d < params.rotary_dims) {
    return qkv[base + d - half];
  }
  return 0.0;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid; // index into q [T,H,D]
  let D = params.head_dim;
  if (i >= params.tokens * params.heads * D) {
    return;
  }
  let d = i % D;
  let th = i / D;
  let h = th % params.heads;
  let t = th / params.heads;
  ${position}
  let q_base = th * 3u * D;
  let k_base = q_base + D;
  q[i] = rope(qkv[q_base + d], partner_of(q_base, d), d, p);
  let cache = (h * params.max_positions + ${packed ? 'entry.x + p' : 'p'}) * D + d;
  k_cache[cache] = rope(qkv[k_base + d], partner_of(k_base, d), d, p);
  v_cache[cache] = qkv[k_base + D + d];
}
`;
}
