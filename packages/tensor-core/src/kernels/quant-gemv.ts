import type { QuantFormat } from '../quant-blocks.js';
import { fourRowStartsWgsl, reduceFourRowsWgsl, subgroupFourRowsWgsl } from './gemv.js';
import { type LinearVariant, linearDeclarations, variantName } from './linear.js';

/** Rows each subgroup (or workgroup, without subgroups) of the quantized GEMV computes. */
export const QUANT_GEMV_ROWS = 4;

/**
 * GEMV on a quantized weight, the M = 1 linear layer of decoding: x f32 [K], W q8/q4 [N, K]
 * (K = 32·B; the layout is in `quantWeightWgsl`), y[n] = Σ_b d_{n,b} · Σ_{i<32} q_{n,b,i}·x[32b+i]
 * (q − 8 for q4), then the epilogue (see `linearDeclarations`).
 *
 * One step of an invocation is one block of 32 weights in each of 4 rows: the 8 vec4 of x it
 * needs are loaded once for the 4 rows, each row's block is 2 vec4<u32> (q8) or 1 (q4) of
 * packed values and one f16 scale, the 32 products are summed in f32 and scaled once. With
 * `subgroups` (a known subgroup size S ≤ 64) each subgroup owns 4 rows, its lanes take every S-th
 * block and one `subgroupAdd` reduces them (64/S subgroups, so 4·64/S rows per workgroup of 64,
 * as `gemvSubgroupWgsl`); without, a workgroup of 64 owns 4 rows and reduces in workgroup memory.
 * Rows past the end re-read the last row and are never stored. Workgroups are numbered row-major
 * over a 2D grid.
 */
export function quantGemvWgsl(
  variant: LinearVariant & { quant: QuantFormat },
  subgroups: boolean,
): string {
  const q8 = variant.quant === 'q8';
  // w viewed as vec4<u32>; the scales start after the values, at a multiple of 4 words.
  const weight = `@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
fn quant_scale(block: u32) -> f32 {
  let word = params.n * (params.k / ${q8 ? 4 : 8}u) + (block >> 1u);
  return unpack2x16float(w[word >> 2u][word & 3u])[block & 1u];
}
${
  q8
    ? `fn i8x4(word: u32) -> vec4f {
  return vec4f((vec4i(bitcast<i32>(word)) << vec4u(24u, 16u, 8u, 0u)) >> vec4u(24u));
}
// d_b · Σ q·x over block b (of the chunk) against x's 8 vec4 of that block.
fn block_dot(b: u32, x0: vec4f, x1: vec4f, x2: vec4f, x3: vec4f, x4: vec4f, x5: vec4f, x6: vec4f,
             x7: vec4f) -> f32 {
  let lo = w[2u * b];
  let hi = w[2u * b + 1u];
  let s = dot(i8x4(lo.x), x0) + dot(i8x4(lo.y), x1) + dot(i8x4(lo.z), x2) + dot(i8x4(lo.w), x3)
    + dot(i8x4(hi.x), x4) + dot(i8x4(hi.y), x5) + dot(i8x4(hi.z), x6) + dot(i8x4(hi.w), x7);
  return s * quant_scale(b);
}`
    : `fn q4x4(word: u32) -> vec4f {
  return vec4f((vec4u(word) >> vec4u(0u, 4u, 8u, 12u)) & vec4u(15u)) - 8.0;
}
// d_b · Σ (q − 8)·x over block b (of the chunk) against x's 8 vec4 of that block.
fn block_dot(b: u32, x0: vec4f, x1: vec4f, x2: vec4f, x3: vec4f, x4: vec4f, x5: vec4f, x6: vec4f,
             x7: vec4f) -> f32 {
  let q = w[b];
  let s = dot(q4x4(q.x), x0) + dot(q4x4(q.x >> 16u), x1) + dot(q4x4(q.y), x2)
    + dot(q4x4(q.y >> 16u), x3) + dot(q4x4(q.z), x4) + dot(q4x4(q.z >> 16u), x5)
    + dot(q4x4(q.w), x6) + dot(q4x4(q.w >> 16u), x7);
  return s * quant_scale(b);
}`
}`;
  const declared = { ...variant, weight: 'f32' as const };
  const body = `  let blocks = params.k / 32u;
${fourRowStartsWgsl('blocks')}
  var acc = vec4f(0.0);
  for (var j = FIRST; j < blocks; j += STRIDE) {
    let x0 = x[8u * j];
    let x1 = x[8u * j + 1u];
    let x2 = x[8u * j + 2u];
    let x3 = x[8u * j + 3u];
    let x4 = x[8u * j + 4u];
    let x5 = x[8u * j + 5u];
    let x6 = x[8u * j + 6u];
    let x7 = x[8u * j + 7u];
    acc += vec4f(block_dot(r0 + j, x0, x1, x2, x3, x4, x5, x6, x7),
                 block_dot(r1 + j, x0, x1, x2, x3, x4, x5, x6, x7),
                 block_dot(r2 + j, x0, x1, x2, x3, x4, x5, x6, x7),
                 block_dot(r3 + j, x0, x1, x2, x3, x4, x5, x6, x7));
  }`;
  const header = `// quant-gemv: y[n] = sum_b d_b sum_i q x, a block of 32 per step, 4 rows per ${subgroups ? 'subgroup (subgroupAdd)' : 'workgroup'}; ${variantName(variant)}
${subgroups ? 'enable subgroups;\n' : ''}${linearDeclarations(declared, weight)}
@group(0) @binding(0) var<storage, read> x: array<vec4f>;`;
  if (subgroups) {
    return /* wgsl */ `${header}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_size) sgs: u32) {
  let lane = lid % sgs;
  let n0 = ((wid.y * nwg.x + wid.x) * (64u / sgs) + lid / sgs) * 4u;
${body.replace('FIRST', 'lane').replace('STRIDE', 'sgs')}
${subgroupFourRowsWgsl}
}
`;
  }
  return /* wgsl */ `${header}
var<workgroup> partial: array<vec4f, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let n0 = (wid.y * nwg.x + wid.x) * 4u;
  if (n0 >= params.n) {
    return;
  }
${body.replace('FIRST', 'lid').replace('STRIDE', '64u')}
${reduceFourRowsWgsl}
}
`;
}
