import { type LinearVariant, linearDeclarations, variantName } from './linear.js';

/** Rows and columns of y per workgroup of {@link gemmWgsl}. */
export const GEMM_TILE = 64;
/** Invocations per workgroup of {@link gemmWgsl}. */
export const GEMM_TILE_INVOCATIONS = 256;
/** Workgroup memory of {@link gemmWgsl}: two 64×16 f32 slices. */
export const GEMM_TILE_STORAGE_BYTES = 2 * 256 * 16;

/**
 * Register-blocked, workgroup-memory-tiled GEMM, the M > 1 linear layer on GPUs (CPU adapters
 * run `gemmLanesWgsl`; see `gemmPlan` in ops/matmul.ts): y[m,n] = Σ_k x[m,k]·W[n,k] (+ epilogue,
 * see `linearDeclarations`). x f32 [M, K], W [N, K], y [M, n_total], row-major. W may be
 * quantized (q8/q4): `load_w` then dequantizes each weight as it is staged (see `quantWeightWgsl`),
 * so the tiles in workgroup memory are f32 as for any other weight.
 *
 * Each workgroup of 16×16 invocations owns a 64×64 tile of y and each invocation a 4×4 block of
 * it (rows 4·ty…, columns 4·tx…), so one pair of workgroup-memory reads (a vec4 of x, a vec4 of
 * W) feeds 16 multiply-adds instead of 1. K advances 16 at a time: the 64×16 slices of x and W
 * are staged transposed ([k][m/4] and [k][n/4] as vec4) with 4 loads per invocation;
 * out-of-range elements load as 0, so any M, N, K work. Workgroups: x over N, y over M.
 */
export function gemmWgsl(variant: LinearVariant): string {
  return /* wgsl */ `// gemm: y[m,n] = sum_k x[m,k] W[n,k], 64x64 tiles, 4x4 per invocation; ${variantName(variant)}
${linearDeclarations(variant)}
@group(0) @binding(0) var<storage, read> x: array<f32>;
var<workgroup> x_s: array<vec4f, 256>; // [k][m/4]
var<workgroup> w_s: array<vec4f, 256>; // [k][n/4]

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let m0 = wid.y * 64u;
  let n0 = wid.x * 64u;
  let tx = lid % 16u;
  let ty = lid / 16u;
  var acc: array<vec4f, 4>;
  for (var k0 = 0u; k0 < params.k; k0 += 16u) {
    for (var i = 0u; i < 4u; i++) {
      let e = lid + 256u * i; // element e of the 64x16 slice: row e / 16, k e % 16
      let row = e / 16u;
      let kk = e % 16u;
      let k = k0 + kk;
      var xv = 0.0;
      if (m0 + row < params.m && k < params.k) {
        xv = x[(m0 + row) * params.k + k];
      }
      x_s[kk * 16u + row / 4u][row % 4u] = xv;
      var wv = 0.0;
      if (n0 + row < params.n && k < params.k) {
        wv = load_w((n0 + row) * params.k + k);
      }
      w_s[kk * 16u + row / 4u][row % 4u] = wv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      let a = x_s[kk * 16u + ty];
      let b = w_s[kk * 16u + tx];
      acc[0] += a.x * b;
      acc[1] += a.y * b;
      acc[2] += a.z * b;
      acc[3] += a.w * b;
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty * 4u + i;
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + tx * 4u + j;
      if (m < params.m && n < params.n) {
        store(m, n, acc[i][j]);
      }
    }
  }
}
`;
}

/**
 * The textbook tiled GEMM, kept as the benchmark baseline: each 16×16 workgroup owns a 16×16
 * tile of y, one output per invocation, staging 16×16 tiles of x and W in workgroup memory.
 * Same math, layouts and epilogue as {@link gemmWgsl}.
 */
export function gemmTextbookWgsl(variant: LinearVariant): string {
  return /* wgsl */ `// gemm-textbook: y[m,n] = sum_k x[m,k] W[n,k], 16x16 tiles; ${variantName(variant)}
${linearDeclarations(variant)}
@group(0) @binding(0) var<storage, read> x: array<f32>;
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
    store(m, n, acc);
  }
}
`;
}
