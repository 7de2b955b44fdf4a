import { type LinearVariant, linearDeclarations, variantName } from './linear.js';
import { quantWeightWgsl } from './quant-weight.js';

/** Register blocking of {@link gemmLanesWgsl}; see `gemmPlan` (ops/matmul.ts) for the choice. */
export interface GemmLanesTile {
  /** Rows of y per workgroup, shared by all its invocations (RM). */
  readonly rows: number;
  /** Columns of y per invocation (RN), `lanes` apart. */
  readonly columns: number;
  /** Invocations per workgroup; a multiple of `lanes`. */
  readonly invocations: number;
  /**
   * Invocations that share one run of consecutive columns: the subgroup size when `shuffle`
   * (then it must be the device's fixed subgroup size), else any width (8 is used).
   */
  readonly lanes: number;
  /** Distribute x across a subgroup and fetch it with `subgroupShuffle` (needs `subgroups`). */
  readonly shuffle: boolean;
}

/**
 * GEMM without workgroup memory, for adapters that run shaders on the CPU (lavapipe/llvmpipe,
 * SwiftShader): y[m,n] = Σ_k x[m,k]·W[n,k] (+ epilogue, see `linearDeclarations`). x f32 [M, K],
 * W f32, f16 or quantized (q8/q4, dequantized 4 weights at a time, see `quantWeightWgsl`) [N, K],
 * y [M, n_total], row-major. Needs K % 4 = 0; any M, N.
 *
 * Such adapters run a workgroup on one CPU thread with the invocations as SIMD lanes, and every
 * load of storage memory is a loop over the lanes (an address, a bounds check and a scalar load
 * per lane, even when all lanes read the same address), while workgroup memory is slower still
 * and a barrier switches coroutines. Arithmetic is cheap by comparison. So this kernel keeps a
 * large block of y in registers and loads each input element once per block:
 *
 * - A workgroup owns `rows` rows × `invocations·columns` columns of y. Invocation i owns the
 *   `columns` columns c0 + j·lanes (c0 = its first column) of all `rows` rows: rows·columns
 *   accumulators, so each loaded weight feeds `rows` multiply-adds and each x value
 *   `columns` per lane.
 * - K advances 4 at a time: one load per column (a vec2<u32> of 4 packed halves, unpacked with
 *   unpack2x16float with or without shader-f16, or a vec4<f32>).
 * - x: with `shuffle`, a subgroup loads a block of 4·S values of each row at once, one vec4 per
 *   lane (S = subgroup size), and each step takes the lane holding its 4 with subgroupShuffle
 *   (a register permute); without, every invocation loads the same vec4 (S times the loads).
 * - The inner loop over the steps of a block stays a loop at run time and its body small: bodies
 *   2–8× larger (more K per step, or unrolled) measured 1.5–2.5× slower on lavapipe, though
 *   fewer instructions per multiply-add (the body outgrows the instruction cache).
 * - The epilogue is a loop over the rows that picks each row's accumulators with `select`:
 *   unrolled, rows·columns inlined copies of it (gelu's erf, the per-lane store) took seconds to
 *   compile.
 *
 * Rows past M and columns past N load the last row or column and are never stored. Workgroups:
 * x over N, y over M.
 */
export function gemmLanesWgsl(variant: LinearVariant, tile: GemmLanesTile): string {
  const { rows, columns, invocations, lanes, shuffle } = tile;
  const declared = { ...variant, weight: 'f32' as const };
  const lines: string[] = [];
  const each = (count: number, line: (i: number) => string) => {
    for (let i = 0; i < count; i++) lines.push(line(i));
  };
  each(columns, (j) => `  let w${j} = min(c0 + ${j * lanes}u, params.n - 1u) * quads;`);
  each(rows, (i) => `  let x${i} = min(m0 + ${i}u, params.m - 1u) * quads;`);
  for (let i = 0; i < rows; i++) each(columns, (j) => `  var a${i}_${j} = 0.0;`);
  const update = (i: number, j: number, xv: string) =>
    `      a${i}_${j} = fma(w${j}q.w, ${xv}.w, fma(w${j}q.z, ${xv}.z, fma(w${j}q.y, ${xv}.y, fma(w${j}q.x, ${xv}.x, a${i}_${j}))));`;
  if (shuffle) {
    lines.push('  for (var q0 = 0u; q0 < quads; q0 += sg_size) {');
    lines.push('    let q = min(q0 + sg_lane, quads - 1u); // this lane x quad (clamped: unused)');
    each(rows, (i) => `    let xl${i} = x[x${i} + q];`);
    lines.push('    let steps = min(sg_size, quads - q0);');
    lines.push('    for (var s = 0u; s < steps; s++) {');
    each(columns, (j) => `      let w${j}q = weight4(w${j} + q0 + s);`);
    for (let i = 0; i < rows; i++) {
      lines.push(`      let x${i}q = subgroupShuffle(xl${i}, s);`);
      each(columns, (j) => update(i, j, `x${i}q`));
    }
    lines.push('    }');
    lines.push('  }');
  } else {
    lines.push('  for (var q = 0u; q < quads; q++) {');
    each(columns, (j) => `      let w${j}q = weight4(w${j} + q);`);
    for (let i = 0; i < rows; i++) {
      lines.push(`      let x${i}q = x[x${i} + q];`);
      each(columns, (j) => update(i, j, `x${i}q`));
    }
    lines.push('  }');
  }
  // The epilogue: a loop over rows (see above).
  lines.push(`  for (var i = 0u; i < min(${rows}u, params.m - m0); i++) {`);
  for (let j = 0; j < columns; j++) {
    let picked = `a0_${j}`;
    for (let i = 1; i < rows; i++) picked = `select(${picked}, a${i}_${j}, i == ${i}u)`;
    lines.push(
      `    if (c0 + ${j * lanes}u < params.n) { store(m0 + i, c0 + ${j * lanes}u, ${picked}); }`,
    );
  }
  lines.push('  }');
  const groups = invocations / lanes;
  const builtins = shuffle
    ? `,
        @builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_size) sg_size: u32`
    : '';
  return /* wgsl */ `// gemm-lanes: y[m,n] = sum_k x[m,k] W[n,k], ${rows}x${columns} per invocation, ${invocations} per workgroup${shuffle ? ', x by subgroupShuffle' : ''}; ${variantName(variant)}
${shuffle ? 'enable subgroups;\n' : ''}${linearDeclarations(declared, quadWeight(variant))}
@group(0) @binding(0) var<storage, read> x: array<vec4f>;

@compute @workgroup_size(${invocations})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32${builtins}) {
  let m0 = wid.y * ${rows}u;
  // ${groups} run(s) of ${lanes} lanes, each over ${lanes * columns} consecutive columns.
  let c0 = wid.x * ${invocations * columns}u + (lid / ${lanes}u) * ${lanes * columns}u + lid % ${lanes}u;
  let quads = params.k / 4u;
${lines.join('\n')}
}
`;
}

/**
 * `w` viewed in units of 4 elements and `weight4(unit)` = W elements 4·unit … 4·unit+3 as f32:
 * a vec2<u32> of packed halves for f16 (unpack2x16float works with or without shader-f16, so the
 * bias alone decides `enable f16`), a vec4<f32> for f32, one word of q8 or half a word of q4
 * values times the block's scale for a quantized weight (see `quantWeightWgsl`).
 */
function quadWeight(variant: LinearVariant): string {
  if (variant.quant) return quantWeightWgsl(variant.quant);
  return variant.weight !== 'f32'
    ? `@group(0) @binding(1) var<storage, read> w: array<vec2<u32>>;
fn weight4(unit: u32) -> vec4f {
  let q = w[unit];
  return vec4f(unpack2x16float(q.x), unpack2x16float(q.y));
}`
    : `@group(0) @binding(1) var<storage, read> w: array<vec4f>;
fn weight4(unit: u32) -> vec4f { return w[unit]; }`;
}

/** Workgroups of {@link gemmLanesWgsl} for an [M, K]·[N, K]ᵀ product (N = the chunk's rows). */
export function gemmLanesGrid(tile: GemmLanesTile, m: number, n: number): [number, number] {
  return [Math.ceil(n / (tile.invocations * tile.columns)), Math.ceil(m / tile.rows)];
}
