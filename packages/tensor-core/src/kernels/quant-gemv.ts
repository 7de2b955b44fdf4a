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
 * One step of an invocation is one 16-byte unit of packed values in each of 4 rows: half a block
 * for q8 (16 int8), a whole block for q4 (32 nibbles), dotted in f32 with the x values it needs
 * and scaled by its block's f16 scale. Consecutive invocations take consecutive units, so a
 * subgroup's loads are one contiguous run per row, as in the f16 GEMV. q8 re-reads x for each
 * row (from cache): holding a block of x for all 4 rows beside q8's unpacking spills registers on
 * CPU adapters (lavapipe, [8192, 2048]: 10.2–10.6 ms that way, whole blocks per invocation, against
 * 6.2–7.8 ms). q4 keeps its block of x for the 4 rows, which measured faster there (5.9–6.7 ms
 * against 6.8–7.0 row by row). With `subgroups` (a known subgroup size S ≤ 64)
 * each subgroup owns 4 rows, its lanes take every S-th unit and one `subgroupAdd` reduces them
 * (64/S subgroups, so 4·64/S rows per workgroup of 64, as `gemvSubgroupWgsl`); without, a
 * workgroup of 64 owns 4 rows and reduces in workgroup memory. Rows past the end re-read the last
 * row and are never stored. Workgroups are numbered row-major over a 2D grid.
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
// d · Σ q·x over unit v of the chunk (16 weights, half of block v / 2), at unit u of x's row.
fn unit_dot(v: u32, u: u32) -> f32 {
  let q = w[v];
  let s = dot(i8x4(q.x), x[4u * u]) + dot(i8x4(q.y), x[4u * u + 1u])
    + dot(i8x4(q.z), x[4u * u + 2u]) + dot(i8x4(q.w), x[4u * u + 3u]);
  return s * quant_scale(v >> 1u);
}`
    : `fn q4x4(word: u32) -> vec4f {
  return vec4f((vec4u(word) >> vec4u(0u, 4u, 8u, 12u)) & vec4u(15u)) - 8.0;
}
// d · Σ (q − 8)·x over unit v of the chunk (block v, 32 weights) against x's 8 vec4 of it.
fn unit_dot(v: u32, x0: vec4f, x1: vec4f, x2: vec4f, x3: vec4f, x4: vec4f, x5: vec4f, x6: vec4f,
            x7: vec4f) -> f32 {
  let q = w[v];
  let s = dot(q4x4(q.x), x0) + dot(q4x4(q.x >> 16u), x1) + dot(q4x4(q.y), x2)
    + dot(q4x4(q.y >> 16u), x3) + dot(q4x4(q.z), x4) + dot(q4x4(q.z >> 16u), x5)
    + dot(q4x4(q.w), x6) + dot(q4x4(q.w >> 16u), x7);
  return s * quant_scale(v);
}`
}`;
  const declared = { ...variant, weight: 'f32' as const };
  // q8 reads x per row, q4 loads a block of x once for the 4 rows (why: see above).
  const step = q8
    ? `    acc.x += unit_dot(r0 + u, u);
    acc.y += unit_dot(r1 + u, u);
    acc.z += unit_dot(r2 + u, u);
    acc.w += unit_dot(r3 + u, u);`
    : `    let x0 = x[8u * u];
    let x1 = x[8u * u + 1u];
    let x2 = x[8u * u + 2u];
    let x3 = x[8u * u + 3u];
    let x4 = x[8u * u + 4u];
    let x5 = x[8u * u + 5u];
    let x6 = x[8u * u + 6u];
    let x7 = x[8u * u + 7u];
    acc += vec4f(unit_dot(r0 + u, x0, x1, x2, x3, x4, x5, x6, x7),
                 unit_dot(r1 + u, x0, x1, x2, x3, x4, x5, x6, x7),
                 unit_dot(r2 + u, x0, x1, x2, x3, x4, x5, x6, x7),
                 unit_dot(r3 + u, x0, x1, x2, x3, x4, x5, x6, x7));`;
  const body = `  let units = params.k / ${q8 ? 16 : 32}u;
${fourRowStartsWgsl('units')}
  var acc = vec4f(0.0);
  for (var u = FIRST; u < units; u += STRIDE) {
${step}
  }`;
  const header = `// quant-gemv: y[n] = sum_b d_b sum_i q x, 16 bytes of a row per step, 4 rows per ${subgroups ? 'subgroup (subgroupAdd)' : 'workgroup'}; ${variantName(variant)}
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
