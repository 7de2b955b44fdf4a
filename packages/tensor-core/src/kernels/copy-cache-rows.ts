/**
 * Copies rows within one KV-cache tensor f32 [H, P, D] (row-major: element (h, p, d) at
 * (h·P + p)·D + d): for each destination k, cache[h, to[k] + r, d] = cache[h, from + r, d] for
 * r < L, every head h and d < D. The source and destination ranges never overlap (the op checks),
 * so no invocation reads an element another one writes, and one read_write binding serves as both
 * source and destination (WebGPU allows neither a buffer-to-buffer copy within one buffer nor the
 * same buffer bound twice when one binding is writable). `to` is u32 [K], the destinations' first
 * rows. One invocation per copied element, i = ((k·H + h)·L + r)·D + d; 256 per workgroup over a
 * 2D grid.
 */
export const copyCacheRowsWgsl = /* wgsl */ `// copy-cache-rows: cache [H, P, D] rows from … from + L − 1 → to[k] … to[k] + L − 1
struct Params { n: u32, heads: u32, headDim: u32, rows: u32, source: u32, length: u32 }
@group(0) @binding(0) var<storage, read_write> cache: array<f32>;
@group(0) @binding(1) var<storage, read> destinations: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) { return; }
  let d = i % params.headDim;
  let rest = i / params.headDim;
  let r = rest % params.length;
  let kh = rest / params.length;
  let h = kh % params.heads;
  let k = kh / params.heads;
  let head = h * params.rows;
  cache[(head + destinations[k] + r) * params.headDim + d] =
    cache[(head + params.source + r) * params.headDim + d];
}
`;
