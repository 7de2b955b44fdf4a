import { packingBindingWgsl, rowPlacementWgsl } from './packing.js';

/**
 * The attention output from a given pattern (TransformerLens' hook_z), one workgroup of 64 per
 * (query row t, head h), workgroups numbered t·H + h:
 *   out[t, h·D + d] = Σ_{j ≤ p} pattern[h, t, j]·v_cache[h, j, d]
 * with p = position_offset + t. `packed`: (c, p) = packing[t], and key j is cache row c + j.
 *
 * Layouts (row-major): pattern f32 [H, T, S] (S = params.keys); v_cache f32 [H, P, D]
 * (P = max_positions, D ≤ 256); out f32 [T, H·D], the layout of `attentionWgsl`'s output.
 *
 * The pattern is used as given: entries j > p are never read, and the weights are not
 * renormalised, so any pattern a hook writes gives exactly its mixture of values. Invocation lid
 * owns dims d = lid, lid + 64, … and walks the keys in order (one f32 accumulator per dim);
 * the 64 invocations read the same weight and consecutive dims of each value row.
 */
export function applyPatternWgsl(packed: boolean): string {
  const place = rowPlacementWgsl(packed);
  return /* wgsl */ `// apply-pattern: out[t, h*D + d] = sum_{j<=p} pattern[h,t,j] v[h,j,d]; pattern [H,T,S], out [T,H*D]
struct Params { tokens: u32, heads: u32, head_dim: u32, max_positions: u32, position_offset: u32,
  keys: u32 }
@group(0) @binding(0) var<storage, read> pattern: array<f32>;
@group(0) @binding(1) var<storage, read> v_cache: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${packed ? `${packingBindingWgsl(3)}\n` : ''}@group(0) @binding(${packed ? 4 : 3}) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x; // t * H + h
  if (row >= params.tokens * params.heads) {
    return;
  }
  let D = params.head_dim;
  let h = row % params.heads;
  let t = row / params.heads;
  ${place}
  let weights = (h * params.tokens + t) * params.keys;
  for (var d = lid; d < D; d += 64u) {
    var acc = 0.0;
    for (var j = 0u; j < keys; j++) {
      acc += pattern[weights + j] * v_cache[head + j * D + d];
    }
    out[row * D + d] = acc;
  }
}
`;
}
