import { packingBindingWgsl, rowPlacementWgsl } from './packing.js';

/**
 * The Params struct of the attention kernels. Field 5 is the position of query row 0 for one
 * sequence; the packing variants take positions from their table and use it for S, the keys of
 * the longest query (the probs row length).
 */
function paramsWgsl(packed: boolean, split: boolean): string {
  return `struct Params { tokens: u32, heads: u32, head_dim: u32, max_positions: u32, ${
    packed ? 'max_keys' : 'position_offset'
  }: u32,
  scale: f32${split ? ', splits: u32' : ''} }`;
}

/** The table binding of a packing variant (with its newline), before the uniforms; else ''. */
function tableWgsl(packed: boolean, binding: number): string {
  return packed ? `${packingBindingWgsl(binding)}\n` : '';
}

/**
 * Causal multi-head attention of T query rows over a KV cache, one workgroup of 64 per
 * (query row t, head h):
 *   out[t, h·D + d] = Σ_{j ≤ p} softmax_j(s)·v_cache[h,j,d],  s_j = (q[t,h,·]·k_cache[h,j,·])·scale,
 * with p = position_offset + t the query's absolute position and scale = 1/√D.
 * `packed` (several sequences, see packing.ts): (c, p) = packing[t], and key j of the query is
 * cache row c + j (its own sequence's rows c … c + p only).
 *
 * Layouts (row-major): q f32 [T, H, D]; caches f32 [H, P, D] (P = max_positions; each head's keys
 * are one contiguous block); out f32 [T, H·D], ready for the dense projection; probs (optional)
 * f32 [H, T, S] with S = position_offset + T (`packed`: S = max_keys = max_t p_t + 1), zero where
 * j > p.
 *
 * Keys are taken in blocks of 64, one per invocation (read as vec4 when D % 4 = 0), with an online (running max, running sum)
 * softmax in f32: each block rescales the accumulators by exp(m_old − m_new), so no score array
 * of the full context is needed and prefill and decode share one code path. Each invocation owns
 * dims d = lid + 64c of the output (D ≤ 256). A row's result depends only on its position and
 * the cache, so through this kernel decoding a token equals the same row of a full prefill bit
 * for bit (the split kernels below agree with it within f32 rounding).
 * Masked scores use a finite sentinel: WGSL may assume there are no infinities.
 */
export function attentionWgsl(withProbs: boolean, vec4: boolean, packed: boolean): string {
  const place = rowPlacementWgsl(packed);
  // The probs row length.
  const S = packed ? 'params.max_keys' : '(params.position_offset + params.tokens)';
  const uniform = (withProbs ? 5 : 4) + (packed ? 1 : 0);
  return /* wgsl */ `// attention: causal softmax(q k^T / sqrt(D)) v over caches [H,P,D]; q [T,H,D], out [T,H*D]
${paramsWgsl(packed, false)}
@group(0) @binding(0) var<storage, read> q: array<f32>;
${vec4 ? '@group(0) @binding(1) var<storage, read> k4: array<vec4f>;' : '@group(0) @binding(1) var<storage, read> k_cache: array<f32>;'}
@group(0) @binding(2) var<storage, read> v_cache: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${withProbs ? '@group(0) @binding(4) var<storage, read_write> probs: array<f32>;' : ''}
${tableWgsl(packed, uniform - 1)}@group(0) @binding(${uniform}) var<uniform> params: Params;
const NONE = -3.0e38;
var<workgroup> q_s: array<f32, 256>;
var<workgroup> p_s: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x; // t * H + h
  if (row >= params.tokens * params.heads) {
    return;
  }
  let D = params.head_dim;
  let h = row % params.heads;
  let t = row / params.heads;
  ${place}
  for (var d = lid; d < D; d += 64u) {
    q_s[d] = q[row * D + d];
  }
  workgroupBarrier();
  var m = NONE;
  var l = 0.0;
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  ${withProbs ? `let probs_row = (h * params.tokens + t) * ${S};` : ''}
  for (var j0 = 0u; j0 < keys; j0 += 64u) {
    let j = j0 + lid;
    var s = NONE;
    if (j < keys) {
      let key = head + j * D;
      var qk = 0.0;
      ${
        vec4
          ? `for (var d = 0u; d < D; d += 4u) {
        qk += dot(vec4f(q_s[d], q_s[d + 1u], q_s[d + 2u], q_s[d + 3u]), k4[(key + d) / 4u]);
      }`
          : `for (var d = 0u; d < D; d++) {
        qk += q_s[d] * k_cache[key + d];
      }`
      }
      s = qk * params.scale;
      ${withProbs ? 'probs[probs_row + j] = s;' : ''}
    }
    p_s[lid] = s;
    workgroupBarrier();
    var block_max = NONE;
    let count = min(64u, keys - j0);
    for (var i = 0u; i < count; i++) {
      block_max = max(block_max, p_s[i]);
    }
    let m_new = max(m, block_max);
    let correction = exp(m - m_new);
    workgroupBarrier();
    p_s[lid] = select(0.0, exp(s - m_new), j < keys);
    workgroupBarrier();
    var block_sum = 0.0;
    for (var i = 0u; i < count; i++) {
      block_sum += p_s[i];
    }
    l = l * correction + block_sum;
    for (var c = 0u; c < 4u; c++) {
      let d = lid + 64u * c;
      if (d < D) {
        var a = acc[c] * correction;
        for (var i = 0u; i < count; i++) {
          a += p_s[i] * v_cache[head + (j0 + i) * D + d];
        }
        acc[c] = a;
      }
    }
    m = m_new;
    workgroupBarrier();
  }
  for (var c = 0u; c < 4u; c++) {
    let d = lid + 64u * c;
    if (d < D) {
      out[row * D + d] = acc[c] / l;
    }
  }
  ${
    withProbs
      ? `// Each invocation normalises the scores it wrote itself (no cross-invocation hazard).
  for (var j = lid; j < ${packed ? S : 'params.position_offset + params.tokens'}; j += 64u) {
    if (j < keys) {
      probs[probs_row + j] = exp(probs[probs_row + j] - m) / l;
    } else {
      probs[probs_row + j] = 0.0;
    }
  }`
      : ''
  }
}
`;
}

/** Keys per workgroup of {@link attentionSplitWgsl}. */
export const ATTENTION_SPLIT_KEYS = 256;

/**
 * Flash-decoding, pass 1 of 2: each workgroup of 64 takes one (query row, block of 256 keys),
 * workgroups numbered row·splits + s, and computes over keys j ∈ [256·s, min(256·s + 256, p + 1)):
 *   m = max_j s_j,  l = Σ_j e^{s_j − m},  o[d] = Σ_j e^{s_j − m}·v_cache[h,j,d]   (s_j as above)
 * written to part_o [rows, splits, D] and part_ml [rows, splits] (vec2: m, l); blocks past the
 * row's last key write nothing. Layouts and the `packed` variant (keys j relative to the row's
 * cache start; splits cover max_keys) as in {@link attentionWgsl}.
 *
 * Invocation lid scores keys 4·lid … 4·lid + 3 of the block (whole key rows; with D % 4 = 0 all
 * four at once, each q vec4 loaded once for them) and keeps their (max, sum); one tree reduction
 * merges the 64 pairs, and each invocation writes its p_j = e^{s_j − m} as one vec4 of workgroup
 * memory (0 past the block's end). Then Σ_j p_j·v[j, ·]: with D % 4 = 0, D/4 consecutive
 * invocations share four value rows per step (vec4 loads), ⌊256/D⌋ such groups at a time, their
 * partial sums added in workgroup memory; otherwise one invocation per dim d.
 */
export function attentionSplitWgsl(vec4: boolean, packed: boolean): string {
  // The row's keys and where its head's keys start; blocks past its last key stop at once.
  const place = packed
    ? `if (row >= params.tokens * params.heads) {
    return;
  }
  let entry = packing[row / params.heads]; // (cache_start, position)
  let keys = entry.y + 1u;
  if (j0 >= keys) {
    return;
  }
  let D = params.head_dim;
  let head = ((row % params.heads) * params.max_positions + entry.x) * D;`
    : `let keys = params.position_offset + row / params.heads + 1u;
  if (row >= params.tokens * params.heads || j0 >= keys) {
    return;
  }
  let D = params.head_dim;
  let head = (row % params.heads) * params.max_positions * D;`;
  const declarations = vec4
    ? `@group(0) @binding(0) var<storage, read> q4: array<vec4f>;
@group(0) @binding(1) var<storage, read> k4: array<vec4f>;
@group(0) @binding(2) var<storage, read> v4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> part_o4: array<vec4f>;
var<workgroup> q4_s: array<vec4f, 64>;
var<workgroup> red_o: array<vec4f, 64>;`
    : `@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k_cache: array<f32>;
@group(0) @binding(2) var<storage, read> v_cache: array<f32>;
@group(0) @binding(3) var<storage, read_write> part_o: array<f32>;
var<workgroup> q_s: array<f32, 256>;`;
  // qk[r] = q·k of key j0 + 4·lid + r (keys past the block re-read its last key).
  const scores = vec4
    ? `let quads = D / 4u;
  for (var c = lid; c < quads; c += 64u) {
    q4_s[c] = q4[row * quads + c];
  }
  workgroupBarrier();
  let k0 = (head + min(j0 + 4u * lid, last) * D) / 4u;
  let k1 = (head + min(j0 + 4u * lid + 1u, last) * D) / 4u;
  let k2 = (head + min(j0 + 4u * lid + 2u, last) * D) / 4u;
  let k3 = (head + min(j0 + 4u * lid + 3u, last) * D) / 4u;
  var qk = vec4f(0.0);
  for (var c = 0u; c < quads; c++) {
    let qc = q4_s[c];
    qk += vec4f(dot(qc, k4[k0 + c]), dot(qc, k4[k1 + c]), dot(qc, k4[k2 + c]),
                dot(qc, k4[k3 + c]));
  }`
    : `for (var d = lid; d < D; d += 64u) {
    q_s[d] = q[row * D + d];
  }
  workgroupBarrier();
  var qk = vec4f(0.0);
  for (var r = 0u; r < 4u; r++) {
    let key = head + min(j0 + 4u * lid + r, last) * D;
    for (var d = 0u; d < D; d++) {
      qk[r] += q_s[d] * k_cache[key + d];
    }
  }`;
  const values = vec4
    ? `// Invocation lid sums dims 4c … 4c + 3 (c = lid % quads) of keys 4g … 4g + 3 (g = lid / quads),
  // then 4(g + groups) …, and so on; keys past the block read its last row with weight 0.
  let groups = 64u / quads;
  let c = lid % quads;
  let g = lid / quads;
  let v0 = (head + j0 * D) / 4u + c;
  var a = vec4f(0.0);
  for (var i = 4u * g; i < count + 4u * g; i += 4u * groups) {
    let key = vec4u(i) + vec4u(0u, 1u, 2u, 3u);
    let p = select(vec4f(0.0), p_s[min(i / 4u, 63u)], key < vec4u(count));
    let j = min(key, vec4u(count - 1u)) * quads + v0;
    a += p.x * v4[j.x] + p.y * v4[j.y] + p.z * v4[j.z] + p.w * v4[j.w];
  }
  red_o[lid] = a;
  workgroupBarrier();
  if (lid < quads) {
    var o = red_o[lid];
    for (var r = 1u; r < groups; r++) {
      o += red_o[r * quads + lid];
    }
    part_o4[index * quads + lid] = o;
  }`
    : `for (var d = lid; d < D; d += 64u) {
    var a = 0.0;
    for (var i = 0u; i < count; i++) {
      a += p_s[i / 4u][i % 4u] * v_cache[head + (j0 + i) * D + d];
    }
    part_o[index * D + d] = a;
  }`;
  return /* wgsl */ `// attention-split: per block of ${ATTENTION_SPLIT_KEYS} keys, m = max s, l = sum e^(s-m), o = sum e^(s-m) v
${paramsWgsl(packed, true)}
${declarations}
@group(0) @binding(4) var<storage, read_write> part_ml: array<vec2f>;
${tableWgsl(packed, 5)}@group(0) @binding(${packed ? 6 : 5}) var<uniform> params: Params;
const NONE = -3.0e38;
var<workgroup> p_s: array<vec4f, 64>; // p of key 4i + r at [i][r]
var<workgroup> red_m: array<f32, 64>;
var<workgroup> red_l: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let index = wid.y * nwg.x + wid.x; // row * splits + split
  let row = index / params.splits; // t * H + h
  let j0 = (index % params.splits) * ${ATTENTION_SPLIT_KEYS}u;
  ${place}
  let count = min(${ATTENTION_SPLIT_KEYS}u, keys - j0);
  let last = j0 + count - 1u;
  ${scores}
  let valid = vec4u(4u * lid) + vec4u(0u, 1u, 2u, 3u) < vec4u(count);
  let s = select(vec4f(NONE), qk * params.scale, valid);
  red_m[lid] = max(max(s.x, s.y), max(s.z, s.w));
  red_l[lid] = dot(select(vec4f(0.0), exp(s - red_m[lid]), valid), vec4f(1.0));
  workgroupBarrier();
  for (var stride = 32u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      let m_a = red_m[lid];
      let m_b = red_m[lid + stride];
      let m_ab = max(m_a, m_b);
      red_l[lid] = red_l[lid] * exp(m_a - m_ab) + red_l[lid + stride] * exp(m_b - m_ab);
      red_m[lid] = m_ab;
    }
    workgroupBarrier();
  }
  let m = red_m[0];
  p_s[lid] = select(vec4f(0.0), exp(s - m), valid);
  workgroupBarrier();
  ${values}
  if (lid == 0u) {
    part_ml[index] = vec2f(m, red_l[0]);
  }
}
`;
}

/**
 * Flash-decoding, pass 2 of 2: one workgroup of 64 per query row merges the row's blocks from
 * {@link attentionSplitWgsl}: with M = max_s m_s and w_s = e^{m_s − M},
 *   out[t, h·D + d] = Σ_s w_s·o_s[d] / Σ_s w_s·l_s   over the blocks s < ⌈(p + 1)/256⌉
 * (`packed`: p = packing[t].y).
 */
export function attentionCombineWgsl(packed: boolean): string {
  const position = packed
    ? 'packing[row / params.heads].y'
    : 'params.position_offset + row / params.heads';
  return /* wgsl */ `// attention-combine: out = sum_s e^(m_s-M) o_s / sum_s e^(m_s-M) l_s over the key blocks
${paramsWgsl(packed, true)}
@group(0) @binding(0) var<storage, read> part_o: array<f32>;
@group(0) @binding(1) var<storage, read> part_ml: array<vec2f>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${tableWgsl(packed, 3)}@group(0) @binding(${packed ? 4 : 3}) var<uniform> params: Params;
const NONE = -3.0e38;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.tokens * params.heads) {
    return;
  }
  let D = params.head_dim;
  let keys = ${position} + 1u;
  let blocks = (keys + ${ATTENTION_SPLIT_KEYS - 1}u) / ${ATTENTION_SPLIT_KEYS}u;
  let first = row * params.splits;
  var m = NONE;
  for (var s = 0u; s < blocks; s++) {
    m = max(m, part_ml[first + s].x);
  }
  var l = 0.0;
  for (var s = 0u; s < blocks; s++) {
    let ml = part_ml[first + s];
    l += ml.y * exp(ml.x - m);
  }
  for (var d = lid; d < D; d += 64u) {
    var a = 0.0;
    for (var s = 0u; s < blocks; s++) {
      a += part_o[(first + s) * D + d] * exp(part_ml[first + s].x - m);
    }
    out[row * D + d] = a / l;
  }
}
`;
}
