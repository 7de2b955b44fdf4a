/**
 * Residual add: y[i] = a[i] + b[i] for i < n. a, b, y: contiguous f32 [n]. One invocation per
 * element; 256 per workgroup, workgroups numbered row-major over a 2D grid (see `workgroupGrid`).
 */
export const addWgsl = /* wgsl */ `// add: y[i] = a[i] + b[i], f32 [n]
struct Params { n: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < params.n) {
    y[i] = a[i] + b[i];
  }
}
`;
