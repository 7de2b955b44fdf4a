import { type LinearVariant, linearDeclarations, variantName } from './linear.js';

/**
 * The start of each of rows n0 … n0 + 3 in `unit`s (r0 … r3, `units` per row), for GEMVs that
 * compute four rows at once. Rows past the end re-read the last row; their sums are never stored.
 */
export const fourRowStartsWgsl = (
  units: string,
) => `  // Rows past the end re-read the last row; their sums are never stored.
  let last = params.n - 1u;
  let r0 = min(n0, last) * ${units};
  let r1 = min(n0 + 1u, last) * ${units};
  let r2 = min(n0 + 2u, last) * ${units};
  let r3 = min(n0 + 3u, last) * ${units};`;

/**
 * The end of a subgroup GEMV over four rows: the lanes' partial dot products `acc` (vec4f, one
 * per row) summed by one `subgroupAdd`, then rows n0 … n0 + 3 stored (those below params.n).
 */
export const subgroupFourRowsWgsl = /* wgsl */ `  let total = subgroupAdd(acc);
  if (lane < 4u && n0 + lane < params.n) {
    store(0u, n0 + lane, total[lane]);
  }`;

/**
 * The end of a 64-invocation GEMV over four rows: each invocation's partial dot products `acc`
 * (vec4f, one per row) summed by a tree in workgroup memory (`partial`, 64 vec4f), then rows
 * n0 … n0 + 3 stored (those below params.n).
 */
export const reduceFourRowsWgsl = /* wgsl */ `  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = 32u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid < 4u && n0 + lid < params.n) {
    store(0u, n0 + lid, partial[0][lid]);
  }`;

/**
 * GEMV, the M = 1 linear layer: y[n] = Σ_k x[k]·W[n,k] (+ epilogue, see `linearDeclarations`).
 * x f32 [K]; W [N, K] row-major (row n contiguous). Needs K % 8 = 0.
 *
 * Memory-bound, so it is built around wide loads: W is read 8 elements per load — one
 * vec4<u32> of packed halves (f16, unpacked with unpack2x16float, with or without shader-f16)
 * or two vec4<f32> — with consecutive invocations on consecutive 16-byte words. Each workgroup
 * of 64 computes 4 rows, sharing each x load among them, then one tree reduction of vec4
 * partial sums. Workgroups are numbered row-major over a 2D grid.
 */
export function gemvWgsl(variant: LinearVariant): string {
  const declared = { ...variant, weight: 'f32' as const };
  return /* wgsl */ `// gemv: y[n] = sum_k x[k] W[n,k], 8 per load, 4 rows per workgroup; ${variantName(variant)}
${linearDeclarations(declared, wideWeight(variant))}
@group(0) @binding(0) var<storage, read> x: array<vec4f>;
var<workgroup> partial: array<vec4f, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let n0 = (wid.y * nwg.x + wid.x) * 4u;
  if (n0 >= params.n) {
    return;
  }
  let units = params.k / 8u;
${fourRowStartsWgsl('units')}
  var acc = vec4f(0.0);
  for (var u = lid; u < units; u += 64u) {
    let xa = x[2u * u];
    let xb = x[2u * u + 1u];
    acc += vec4f(dot8(r0 + u, xa, xb), dot8(r1 + u, xa, xb), dot8(r2 + u, xa, xb),
                 dot8(r3 + u, xa, xb));
  }
${reduceFourRowsWgsl}
}
`;
}

/** Rows each subgroup of {@link gemvSubgroupWgsl} computes. */
export const GEMV_SUBGROUP_ROWS = 4;

/**
 * Subgroup GEMV (needs \`subgroups\` and a known subgroup size S ≤ 64): same math and loads as
 * {@link gemvWgsl}, but each subgroup owns 4 rows and reduces them with one \`subgroupAdd\`, so
 * there is no workgroup memory and no barrier. A workgroup of 64 covers 64/S subgroups, i.e.
 * 4·64/S rows; the host computes the grid from S. Assumes subgroups are runs of consecutive
 * local_invocation_index (true of every 1D compute dispatch on Vulkan, D3D12 and Metal drivers).
 */
export function gemvSubgroupWgsl(variant: LinearVariant): string {
  const declared = { ...variant, weight: 'f32' as const };
  return /* wgsl */ `// gemv: y[n] = sum_k x[k] W[n,k], 8 per load, 4 rows per subgroup (subgroupAdd); ${variantName(variant)}
enable subgroups;
${linearDeclarations(declared, wideWeight(variant))}
@group(0) @binding(0) var<storage, read> x: array<vec4f>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_size) sgs: u32) {
  let lane = lid % sgs;
  let n0 = ((wid.y * nwg.x + wid.x) * (64u / sgs) + lid / sgs) * 4u;
  let units = params.k / 8u;
${fourRowStartsWgsl('units')}
  var acc = vec4f(0.0);
  for (var u = lane; u < units; u += sgs) {
    let xa = x[2u * u];
    let xb = x[2u * u + 1u];
    acc += vec4f(dot8(r0 + u, xa, xb), dot8(r1 + u, xa, xb), dot8(r2 + u, xa, xb),
                 dot8(r3 + u, xa, xb));
  }
${subgroupFourRowsWgsl}
}
`;
}

/**
 * \`w\` viewed for 8-element loads and \`dot8(unit, xa, xb)\` = Σ of W elements 8·unit … 8·unit+7
 * times xa, xb: one vec4<u32> of packed halves for f16 (unpack2x16float works with or without
 * shader-f16, so the bias alone decides \`enable f16\`), two vec4<f32> for f32.
 */
function wideWeight(variant: LinearVariant): string {
  return variant.weight !== 'f32'
    ? `@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
fn dot8(unit: u32, xa: vec4f, xb: vec4f) -> f32 {
  let q = w[unit];
  return dot(vec4f(unpack2x16float(q.x), unpack2x16float(q.y)), xa)
    + dot(vec4f(unpack2x16float(q.z), unpack2x16float(q.w)), xb);
}`
    : `@group(0) @binding(1) var<storage, read> w: array<vec4f>;
fn dot8(unit: u32, xa: vec4f, xb: vec4f) -> f32 {
  return dot(w[2u * unit], xa) + dot(w[2u * unit + 1u], xb);
}`;
}

/**
 * Scalar GEMV for any K: y[n] = Σ_k x[k]·W[n,k] (+ epilogue). x f32 [K], W [N, K] row-major.
 * One workgroup of 64 per output n, each invocation summing a K-stride of 64 one element at a
 * time, then a tree reduction in workgroup memory.
 */
export function gemvScalarWgsl(variant: LinearVariant): string {
  return /* wgsl */ `// gemv-scalar: y[n] = sum_k x[k] W[n,k]; ${variantName(variant)}
${linearDeclarations(variant)}
@group(0) @binding(0) var<storage, read> x: array<f32>;
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
    store(0u, n, partial[0]);
  }
}
`;
}
