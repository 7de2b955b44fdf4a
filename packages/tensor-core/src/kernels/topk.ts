/**
 * Row-wise top-k (k ≤ 64): the k largest values of each row of x f32 [R, C] row-major, best
 * first, ties broken toward the lower index (the order of a stable descending sort). Outputs
 * values f32 [R, k] and indices u32 [R, k]. One workgroup of 256 per row.
 *
 * Phase 1: invocation i scans columns i, i+256, … keeping its own top-k sorted in private memory
 * (a new element enters only if it beats the current k-th, so most cost one comparison).
 * Phase 2: k rounds of a workgroup tree reduction over each invocation's best remaining entry;
 * the winner's owner advances its cursor. Index 0xffffffff marks "nothing left". NaN inputs give
 * unspecified results.
 */
export const topkWgsl = /* wgsl */ `// topk: k largest of each row, ties -> lower index; x f32 [R,C] -> values f32, indices u32 [R,k]
struct Params { rows: u32, cols: u32, k: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> values: array<f32>;
@group(0) @binding(2) var<storage, read_write> indices: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;
const NONE = 0xffffffffu;
var<workgroup> best_value: array<f32, 256>;
var<workgroup> best_index: array<u32, 256>;
var<workgroup> best_owner: array<u32, 256>;

// (va, ia) ranks before (vb, ib): larger value, or equal value and lower index; NONE ranks last.
fn before(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
  return ia != NONE && (ib == NONE || va > vb || (va == vb && ia < ib));
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= params.rows) {
    return;
  }
  let k = params.k;
  let row = r * params.cols;
  var list_value: array<f32, 64>;
  var list_index: array<u32, 64>;
  var count = 0u;
  for (var c = lid; c < params.cols; c += 256u) {
    let v = x[row + c];
    // Columns arrive in increasing order, so an equal value ranks after what the list holds.
    if (count == k && !(v > list_value[k - 1u])) {
      continue;
    }
    var slot = min(count, k - 1u);
    while (slot > 0u && v > list_value[slot - 1u]) {
      list_value[slot] = list_value[slot - 1u];
      list_index[slot] = list_index[slot - 1u];
      slot--;
    }
    list_value[slot] = v;
    list_index[slot] = c;
    count = min(count + 1u, k);
  }
  var cursor = 0u;
  for (var out = 0u; out < k; out++) {
    var v = 0.0;
    var i = NONE;
    if (cursor < count) {
      v = list_value[cursor];
      i = list_index[cursor];
    }
    best_value[lid] = v;
    best_index[lid] = i;
    best_owner[lid] = lid;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride >>= 1u) {
      if (lid < stride && before(best_value[lid + stride], best_index[lid + stride],
                                 best_value[lid], best_index[lid])) {
        best_value[lid] = best_value[lid + stride];
        best_index[lid] = best_index[lid + stride];
        best_owner[lid] = best_owner[lid + stride];
      }
      workgroupBarrier();
    }
    if (best_owner[0] == lid) {
      cursor++;
    }
    if (lid == 0u) {
      values[r * k + out] = best_value[0];
      indices[r * k + out] = best_index[0];
    }
    workgroupBarrier();
  }
}
`;
