import { packingBindingWgsl } from './packing.js';

/**
 * Writes the keys and values of new tokens into a KV cache: k, v f32 [tokens, heads, D] go to
 * cache rows c = positionOffset + t, kCache[h, c, d] = k[t, h, d] (caches f32
 * [heads, maxPositions, D]); `packed`: c = packing[t].x + packing[t].y (cache start + position,
 * see packing.ts). One invocation per element of k; 256 per workgroup over a 2D grid.
 */
export function kvCacheWriteWgsl(packed: boolean): string {
  const table = packed ? `${packingBindingWgsl(4)}\n` : '';
  const cacheRow = packed ? 'packing[t].x + packing[t].y' : 'params.positionOffset + t';
  return /* wgsl */ `// kv-cache-write: k, v [T, H, D] → caches [H, P, D] rows offset + t
struct Params { n: u32, heads: u32, headDim: u32, maxPositions: u32, positionOffset: u32 }
@group(0) @binding(0) var<storage, read> k: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read_write> kCache: array<f32>;
@group(0) @binding(3) var<storage, read_write> vCache: array<f32>;
${table}@group(0) @binding(${packed ? 5 : 4}) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) { return; }
  let d = i % params.headDim;
  let th = i / params.headDim;
  let h = th % params.heads;
  let t = th / params.heads;
  let dst = (h * params.maxPositions + ${cacheRow}) * params.headDim + d;
  kCache[dst] = k[i];
  vCache[dst] = v[i];
}
`;
}
