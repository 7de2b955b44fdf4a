/**
 * Splits GPT-NeoX's fused query_key_value output without rotating: qkv f32 [tokens, heads·3·D]
 * is laid out per head as q, k, v (each D long); q, k, v f32 [tokens, heads, D] get
 * q[t,h,d] = qkv[t, (3h)·D + d], k[t,h,d] = qkv[t, (3h+1)·D + d], v[t,h,d] = qkv[t, (3h+2)·D + d].
 * One invocation per element of q; 256 per workgroup over a 2D grid.
 */
export const splitQkvWgsl = /* wgsl */ `// split-qkv: [T, H·3·D] per-head q|k|v → q, k, v [T, H, D]
struct Params { n: u32, heads: u32, headDim: u32 }
@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(0) @binding(2) var<storage, read_write> k: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) { return; }
  let d = i % params.headDim;
  let th = i / params.headDim; // t·heads + h
  let src = th * 3u * params.headDim + d;
  q[i] = qkv[src];
  k[i] = qkv[src + params.headDim];
  v[i] = qkv[src + 2u * params.headDim];
}
`;
