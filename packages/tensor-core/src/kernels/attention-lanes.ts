import { packingBindingWgsl } from './packing.js';

/** Shape of {@link attentionLanesWgsl}; see `attentionPlan` (ops/attention.ts) for the choice. */
export interface AttentionLanesTile {
  /** Head dimension D, a compile-time constant of the kernel; D % 4 = 0 (ops/attention.ts uses it up to D = 80). */
  readonly headDim: number;
  /** The device's fixed subgroup size S: one workgroup is one subgroup of S invocations. */
  readonly lanes: number;
  /** Query rows per invocation (R): a workgroup owns S·R consecutive tokens of one head. */
  readonly rows: number;
}

/**
 * Causal multi-head attention for adapters that run shaders on the CPU (lavapipe/llvmpipe,
 * SwiftShader), with the math, layouts and `packed` variant of `attentionWgsl` (kernels/
 * attention.ts):
 *   out[t, h·D + d] = Σ_{j ≤ p} softmax_j(s)·v_cache[h, c + j, d],
 *   s_j = (q[t,h,·]·k_cache[h, c + j, ·])·scale,
 * p = position_offset + t and c = 0 (`packed`: (c, p) = packing[t]), scale = 1/√D; q f32
 * [T, H, D], caches f32 [H, P, D], out f32 [T, H·D], all read and written as vec4.
 *
 * Such adapters run a workgroup on one CPU thread with its invocations as SIMD lanes. A load of
 * storage memory is a loop over the lanes (~12–15 ns per 8-lane load on lavapipe, per component
 * of a vec4) whatever the addresses, workgroup memory is ~10× slower still and barriers switch
 * coroutines, while subgroupShuffle is a register permute (~0.3 ns). So, as in gemm-lanes.ts:
 *
 * - A workgroup is one subgroup of S lanes and owns tokens t0 … t0 + S·R − 1 of head h
 *   (t0 = S·R·wid.x, h = wid.y); lane i owns the R rows t0 + r·S + i, r < R, each with its q
 *   (D/4 vec4), its accumulator o (D/4 vec4), its running max m and running sum l, all in
 *   registers. No workgroup memory, no barriers.
 * - The lanes walk the keys j = 0 … (keys of the subgroup's last row) − 1 together, one key per
 *   step. Each key row (D/4 vec4) is loaded once for the whole subgroup: lane i loads vec4s
 *   i, i + S, … (⌈D/4S⌉ loads per lane), and each step of the dot products takes vec4 c from
 *   lane c mod S with subgroupShuffle; the value row likewise. So one loaded element feeds
 *   S·R rows (GEMM-like reuse: q·K and P·V are [S·R, D]·[D, keys] products).
 * - Online softmax per row, one key at a time, in f32 with max subtraction:
 *     s = q·k·scale (a finite sentinel −3e38 where j > p: WGSL may assume no infinities);
 *     if s > m: o ← o·e^{m−s}, l ← l·e^{m−s}, m ← s  (a branch: after the first keys a row's
 *                                                    maximum rarely moves, so mostly skipped);
 *     w = e^{s−m} (0 where masked);  l ← l + w;  o ← o + w·v.
 *   and at the end out = o / l. Key 0 is valid for every row, so m is finite after it.
 * - The loop bodies stay loops at run time over keys; only the D/4 steps and the R rows are
 *   unrolled (D is a constant of the generated code).
 * - `packed`: lanes may hold rows of different sequences (whose keys start at different cache
 *   rows c). The subgroup then walks one sequence at a time: the smallest c among its rows not
 *   yet done (subgroupMin), over the most keys of the rows with that c (subgroupMax); the rows of
 *   other sequences see those keys masked. One pass when all rows share a sequence (every block
 *   inside a segment), a few at segment boundaries.
 *
 * Rows past T re-read row T − 1 and are never stored. The result differs from `attentionWgsl`'s
 * by f32 rounding only (a different summation order).
 */
export function attentionLanesWgsl(tile: AttentionLanesTile, packed: boolean): string {
  const { headDim, lanes: S, rows: R } = tile;
  const Q = headDim / 4;
  const L = Math.ceil(Q / S); // vec4 loads per lane per key row
  const out: string[] = [];
  const each = (count: number, line: (i: number) => string) => {
    for (let i = 0; i < count; i++) out.push(line(i));
  };
  const rowsRange = [...Array(R).keys()];
  // Per row slot r: token, (t, h) row, placement.
  each(R, (r) => `  let t${r} = first + ${r * S}u + lane;`);
  each(R, (r) => `  let row${r} = min(t${r}, params.tokens - 1u) * params.heads + h;`);
  if (packed) {
    each(R, (r) => `  let entry${r} = packing[min(t${r}, params.tokens - 1u)];`);
    each(R, (r) => `  let keys${r} = entry${r}.y + 1u;`);
    each(R, (r) => `  var pending${r} = t${r} < params.tokens;`);
  } else {
    each(R, (r) => `  let keys${r} = params.position_offset + t${r} + 1u;`);
    each(R, (r) => `  let here${r} = t${r} < params.tokens;`);
  }
  for (let r = 0; r < R; r++) {
    each(Q, (c) => `  let q${r}_${c} = q4[row${r} * ${Q}u + ${c}u];`);
  }
  each(R, (r) => `  var m${r} = NONE;`);
  each(R, (r) => `  var l${r} = 0.0;`);
  for (let r = 0; r < R; r++) each(Q, (c) => `  var o${r}_${c} = vec4f(0.0);`);
  each(
    L,
    (i) => `  let at${i} = min(lane + ${i * S}u, ${Q - 1}u); // this lane's vec4s of a key row`,
  );
  // The key loop over one sequence, keys 0 … keys_max − 1 starting at vec4 `base`.
  const body: string[] = [];
  const push = (line: string) => body.push(line);
  push('  for (var j = 0u; j < keys_max; j++) {');
  push(`    let key = base + j * ${Q}u;`);
  for (let i = 0; i < L; i++) push(`    let k${i} = k4[key + at${i}];`);
  for (const r of rowsRange) push(`    var d${r} = vec4f(0.0);`);
  for (let c = 0; c < Q; c++) {
    push(`    let k_${c} = subgroupShuffle(k${Math.floor(c / S)}, ${c % S}u);`);
    for (const r of rowsRange) push(`    d${r} = fma(q${r}_${c}, k_${c}, d${r});`);
  }
  for (const r of rowsRange) {
    push(`    let valid${r} = here${r} && j < keys${r};`);
    push(
      `    let s${r} = select(NONE, (d${r}.x + d${r}.y + d${r}.z + d${r}.w) * params.scale, valid${r});`,
    );
    push(`    if (s${r} > m${r}) {`);
    push(`      let rescale = exp(m${r} - s${r});`);
    push(`      l${r} *= rescale;`);
    for (let c = 0; c < Q; c++) push(`      o${r}_${c} *= rescale;`);
    push(`      m${r} = s${r};`);
    push('    }');
    push(`    let w${r} = select(0.0, exp(s${r} - m${r}), valid${r});`);
    push(`    l${r} += w${r};`);
  }
  for (let i = 0; i < L; i++) push(`    let v${i} = v4[key + at${i}];`);
  for (let c = 0; c < Q; c++) {
    push(`    let v_${c} = subgroupShuffle(v${Math.floor(c / S)}, ${c % S}u);`);
    for (const r of rowsRange) push(`    o${r}_${c} = fma(vec4f(w${r}), v_${c}, o${r}_${c});`);
  }
  push('  }');
  if (packed) {
    out.push('  loop {');
    out.push('    // The next sequence: the smallest cache start among the rows not yet done.');
    out.push('    var mine = NO_START;');
    each(R, (r) => `    mine = min(mine, select(NO_START, entry${r}.x, pending${r}));`);
    out.push('    let start = subgroupMin(mine);');
    out.push('    if (start == NO_START) {');
    out.push('      break;');
    out.push('    }');
    each(R, (r) => `    let here${r} = pending${r} && entry${r}.x == start;`);
    out.push('    var most = 0u;');
    each(R, (r) => `    most = max(most, select(0u, keys${r}, here${r}));`);
    out.push('    let keys_max = subgroupMax(most);');
    out.push(`    let base = (h * params.max_positions + start) * ${Q}u;`);
    out.push(...body.map((line) => `  ${line}`));
    each(R, (r) => `    pending${r} = pending${r} && !here${r};`);
    out.push('  }');
  } else {
    out.push(
      `  let keys_max = params.position_offset + min(first + ${S * R - 1}u, params.tokens - 1u) + 1u;`,
    );
    out.push(`  let base = h * params.max_positions * ${Q}u;`);
    out.push(...body);
  }
  for (const r of rowsRange) {
    out.push(`  if (t${r} < params.tokens) {`);
    out.push(`    let norm = 1.0 / l${r};`);
    each(Q, (c) => `    out4[row${r} * ${Q}u + ${c}u] = o${r}_${c} * norm;`);
    out.push('  }');
  }
  const uniform = packed ? 5 : 4;
  return /* wgsl */ `// attention-lanes: causal softmax(q k^T / sqrt(D)) v, D = ${headDim}, ${R} row(s) per lane, subgroups of ${S}, k and v rows by subgroupShuffle${packed ? ', packed' : ''}
enable subgroups;
${packed ? 'diagnostic(off, subgroup_uniformity);\n' : ''}struct Params { tokens: u32, heads: u32, head_dim: u32, max_positions: u32, ${
    packed ? 'max_keys' : 'position_offset'
  }: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> q4: array<vec4f>;
@group(0) @binding(1) var<storage, read> k4: array<vec4f>;
@group(0) @binding(2) var<storage, read> v4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> out4: array<vec4f>;
${packed ? `${packingBindingWgsl(4)}\n` : ''}@group(0) @binding(${uniform}) var<uniform> params: Params;
const NONE = -3.0e38;
${packed ? 'const NO_START = 0xffffffffu;\n' : ''}
@compute @workgroup_size(${S})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let h = wid.y;
  let first = wid.x * ${S * R}u;
${out.join('\n')}
}
`;
}

/** Workgroups of {@link attentionLanesWgsl}: x over blocks of S·R tokens, y over heads. */
export function attentionLanesGrid(
  tile: AttentionLanesTile,
  tokens: number,
  heads: number,
): [number, number] {
  return [Math.ceil(tokens / (tile.lanes * tile.rows)), heads];
}
