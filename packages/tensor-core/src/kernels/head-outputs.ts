import { absentArray, enableDirectives, readOnlyArray, type StorageType } from './storage.js';

/**
 * Each attention head's write into the residual stream (TransformerLens' `hook_result`, without
 * the dense bias): out[t,h,n] = Σ_d z[t,h,d]·W[n, h·D + d]. z f32 [T, H, D], W [N, H·D] (the
 * dense layer's `nn.Linear` weight), out f32 [T, H, n_total], row-major. One invocation per output
 * element, 256 per workgroup over a 2D grid (see `workgroupGrid`). A weight split into row chunks
 * is dispatched once per chunk, with n = the chunk's rows and n_offset = its first row.
 */
export function headOutputsWgsl(weight: StorageType): string {
  return /* wgsl */ `// head_outputs: out[t,h,n] = sum_d z[t,h,d] W[n,h*D+d]; W ${weight}
${enableDirectives(weight)}
struct Params { count: u32, heads: u32, head_dim: u32, n: u32, n_total: u32, n_offset: u32 }
@group(0) @binding(0) var<storage, read> z: array<f32>;
${readOnlyArray('w', 1, weight)}
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.count) { // T * H * n
    return;
  }
  let n = i % params.n;
  let th = i / params.n; // t * H + h
  let h = th % params.heads;
  let d_count = params.head_dim;
  let z_row = th * d_count;
  let w_row = n * params.heads * d_count + h * d_count;
  var acc = 0.0;
  for (var d = 0u; d < d_count; d++) {
    acc += z[z_row + d] * load_w(w_row + d);
  }
  y[th * params.n_total + params.n_offset + n] = acc;
}
`;
}

/**
 * The sum of the heads' writes plus the dense bias, i.e. the attention output:
 * y[t,n] = Σ_h r[t,h,n] + b[n]. r f32 [T, H, N], b [N] (optional), y f32 [T, N], row-major.
 * One invocation per output element, 256 per workgroup over a 2D grid; heads summed in order.
 */
export function sumHeadsWgsl(bias: StorageType | undefined): string {
  return /* wgsl */ `// sum_heads: y[t,n] = sum_h r[t,h,n] + b[n]${bias ? `; b ${bias}` : ''}
${enableDirectives(bias)}
struct Params { count: u32, heads: u32, n: u32 }
@group(0) @binding(0) var<storage, read> r: array<f32>;
${bias ? readOnlyArray('b', 1, bias) : absentArray('b')}
@group(0) @binding(${bias ? 2 : 1}) var<storage, read_write> y: array<f32>;
@group(0) @binding(${bias ? 3 : 2}) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.count) { // T * N
    return;
  }
  let n = i % params.n;
  let t = i / params.n;
  var acc = 0.0;
  for (var h = 0u; h < params.heads; h++) {
    acc += r[(t * params.heads + h) * params.n + n];
  }
  y[i] = acc + load_b(n);
}
`;
}
