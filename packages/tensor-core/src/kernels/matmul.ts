import { absentArray, enableDirectives, readOnlyArray, type StorageType } from './storage.js';

/** Storage types of a linear layer's weight and (optional) bias. */
export interface LinearTypes {
  weight: StorageType;
  bias?: StorageType;
}

function linearDeclarations({ weight, bias }: LinearTypes): string {
  return [
    readOnlyArray('w', 1, weight),
    bias ? readOnlyArray('b', 2, bias) : absentArray('b'),
    `@group(0) @binding(${bias ? 3 : 2}) var<storage, read_write> y: array<f32>;`,
    `@group(0) @binding(${bias ? 4 : 3}) var<uniform> params: Params;`,
  ].join('\n');
}

/**
 * GEMV, the M = 1 linear layer: y[n] = Σ_k x[k]·W[n,k] + b[n]. x f32 [K]; W [N, K] row-major, so
 * row n is contiguous; b [N]; y f32 [N]. One workgroup of 64 per output n (2D grid numbered
 * row-major): each invocation sums a K-stride of 64, then a tree reduction in workgroup memory.
 */
export function gemvWgsl(types: LinearTypes): string {
  return /* wgsl */ `// gemv: y[n] = sum_k x[k] W[n,k] + b[n]; x f32 [K], W ${types.weight} [N,K], y f32 [N]
${enableDirectives(types.weight, types.bias)}
struct Params { n: u32, k: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
${linearDeclarations(types)}
var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let n = wid.y * nwg.x + wid.x;
  if (n >= params.n) {
    return;
  }
  let row = n * params.k;
  var acc = 0.0;
  for (var k = lid; k < params.k; k += 64u) {
    acc += x[k] * load_w(row + k);
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = 32u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    y[n] = partial[0] + load_b(n);
  }
}
`;
}

/**
 * Tiled GEMM, the M > 1 linear layer: y[m,n] = Σ_k x[m,k]·W[n,k] + b[n]. x f32 [M, K], W [N, K],
 * b [N], y f32 [M, N], all row-major. Each 16×16 workgroup owns a 16×16 tile of y (x: columns n,
 * y: rows m) and walks K in steps of 16, staging a 16×16 tile of x and of W in workgroup memory;
 * out-of-range elements load as 0, so any M, N, K work.
 */
export function gemmWgsl(types: LinearTypes): string {
  return /* wgsl */ `// gemm: y[m,n] = sum_k x[m,k] W[n,k] + b[n]; x f32 [M,K], W ${types.weight} [N,K], y f32 [M,N]
${enableDirectives(types.weight, types.bias)}
struct Params { m: u32, n: u32, k: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
${linearDeclarations(types)}
var<workgroup> x_tile: array<array<f32, 16>, 16>; // [m in tile][k in tile]
var<workgroup> w_tile: array<array<f32, 16>, 16>; // [n in tile][k in tile]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let m = wid.y * 16u + lid.y;
  let n = wid.x * 16u + lid.x;
  let w_row = wid.x * 16u + lid.y; // the W row this invocation stages
  var acc = 0.0;
  for (var k0 = 0u; k0 < params.k; k0 += 16u) {
    let k = k0 + lid.x;
    var xv = 0.0;
    if (m < params.m && k < params.k) {
      xv = x[m * params.k + k];
    }
    x_tile[lid.y][lid.x] = xv;
    var wv = 0.0;
    if (w_row < params.n && k < params.k) {
      wv = load_w(w_row * params.k + k);
    }
    w_tile[lid.y][lid.x] = wv;
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      acc += x_tile[lid.y][kk] * w_tile[lid.x][kk];
    }
    workgroupBarrier();
  }
  if (m < params.m && n < params.n) {
    y[m * params.n + n] = acc + load_b(n);
  }
}
`;
}
