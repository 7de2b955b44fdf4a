/**
 * Row-wise argmax: y[r] = the smallest c with x[r,c] = max_c x[r,c]. x f32 [R, C] row-major,
 * y u32 [R]. One workgroup of 256 per row: each invocation scans a stride of 256 keeping its
 * first maximum, then a tree reduction over (value, index) that breaks ties toward the lower
 * index, so the result equals a sequential first-max scan. NaN inputs give an unspecified index.
 */
export const argmaxWgsl = /* wgsl */ `// argmax: y[r] = first argmax_c x[r,c]; x f32 [R,C], y u32 [R]
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;
var<workgroup> best_value: array<f32, 256>;
var<workgroup> best_index: array<u32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= params.rows) {
    return;
  }
  let row = r * params.cols;
  // Start from this invocation's first element (not -inf) so an all -inf row still has a winner.
  var value = 0.0;
  var index = 0xffffffffu;
  if (lid < params.cols) {
    value = x[row + lid];
    index = lid;
  }
  for (var c = lid + 256u; c < params.cols; c += 256u) {
    let v = x[row + c];
    if (v > value) {
      value = v;
      index = c;
    }
  }
  best_value[lid] = value;
  best_index[lid] = index;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      let v = best_value[lid + stride];
      let i = best_index[lid + stride];
      let mine = best_index[lid];
      // 0xffffffff marks "no element" (a row shorter than the workgroup) and never wins.
      if (i != 0xffffffffu
          && (mine == 0xffffffffu || v > best_value[lid] || (v == best_value[lid] && i < mine))) {
        best_value[lid] = v;
        best_index[lid] = i;
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    y[r] = best_index[0];
  }
}
`;
