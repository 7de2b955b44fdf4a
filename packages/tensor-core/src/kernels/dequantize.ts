import type { QuantFormat } from '../quant-blocks.js';
import { quantWeightWgsl } from './quant-weight.js';

/** Invocations per workgroup of {@link dequantizeWgsl}. */
export const DEQUANTIZE_WORKGROUP = 64;

/**
 * Dequantizes one row chunk of a q8/q4 matrix (layout in `quantWeightWgsl`) to f32:
 * y[r, k] = q·d (q8) or (q − 8)·d (q4), exact in f32. One invocation per 4 weights (one vec4 of y).
 *
 * - Whole (`gather` false): the chunk's `params.n` rows go to rows `first_row …` of y [N, K].
 * - Gathered (`gather` true): y [R, K], row r = W[rows[r]] for the rows that fall in this chunk
 *   (`first_row ≤ rows[r] < first_row + n`); the others are left alone, so a matrix in several
 *   chunks takes one dispatch per chunk into a zeroed y, and out-of-range indices give zeros.
 *
 * Params: n (the chunk's rows), k, out_rows (rows of y this dispatch covers), first_row. Units are
 * numbered row-major over a 2D grid of workgroups.
 */
export function dequantizeWgsl(format: QuantFormat, gather: boolean): string {
  const source = gather
    ? `  let r = i / quads;
  let q = i % quads;
  let src = rows[r];
  if (src < params.first_row || src - params.first_row >= params.n) {
    return;
  }
  y[i] = weight4((src - params.first_row) * quads + q);`
    : `  y[params.first_row * quads + i] = weight4(i);`;
  return /* wgsl */ `// dequantize: y = q d (${format}${gather ? ', gathered rows' : ''})
struct Params { n: u32, k: u32, out_rows: u32, first_row: u32 }
${quantWeightWgsl(format, 0)}
${gather ? '@group(0) @binding(1) var<storage, read> rows: array<u32>;\n' : ''}@group(0) @binding(${gather ? 2 : 1}) var<storage, read_write> y: array<vec4f>;
@group(0) @binding(${gather ? 3 : 2}) var<uniform> params: Params;

@compute @workgroup_size(${DEQUANTIZE_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${DEQUANTIZE_WORKGROUP}u + lid;
  let quads = params.k / 4u;
  if (i >= params.out_rows * quads) {
    return;
  }
${source}
}
`;
}
