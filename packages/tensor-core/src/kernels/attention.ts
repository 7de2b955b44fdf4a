/**
 * Causal multi-head attention of T query rows over a KV cache, one workgroup of 64 per
 * (query row t, head h):
 *   out[t, h·D + d] = Σ_{j ≤ p} softmax_j(s)·v_cache[h,j,d],  s_j = (q[t,h,·]·k_cache[h,j,·])·scale,
 * with p = position_offset + t the query's absolute position and scale = 1/√D.
 *
 * Layouts (row-major): q f32 [T, H, D]; caches f32 [H, P, D] (P = max_positions; each head's keys
 * are one contiguous block); out f32 [T, H·D], ready for the dense projection; probs (optional)
 * f32 [H, T, S] with S = position_offset + T, zero where j > p.
 *
 * Keys are taken in blocks of 64, one per invocation (read as vec4 when D % 4 = 0), with an online (running max, running sum)
 * softmax in f32: each block rescales the accumulators by exp(m_old − m_new), so no score array
 * of the full context is needed and prefill and decode share one code path. Each invocation owns
 * dims d = lid + 64c of the output (D ≤ 256). A row's result depends only on its position and
 * the cache, so decoding a token equals the same row of a full prefill bit for bit.
 * Masked scores use a finite sentinel: WGSL may assume there are no infinities.
 */
export function attentionWgsl(withProbs: boolean, vec4: boolean): string {
  return /* wgsl */ `// attention: causal softmax(q k^T / sqrt(D)) v over caches [H,P,D]; q [T,H,D], out [T,H*D]
struct Params { tokens: u32, heads: u32, head_dim: u32, max_positions: u32, position_offset: u32,
  scale: f32 }
@group(0) @binding(0) var<storage, read> q: array<f32>;
${vec4 ? '@group(0) @binding(1) var<storage, read> k4: array<vec4f>;' : '@group(0) @binding(1) var<storage, read> k_cache: array<f32>;'}
@group(0) @binding(2) var<storage, read> v_cache: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${withProbs ? '@group(0) @binding(4) var<storage, read_write> probs: array<f32>;' : ''}
@group(0) @binding(${withProbs ? 5 : 4}) var<uniform> params: Params;
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
  let position = params.position_offset + t;
  let keys = position + 1u;
  let head = h * params.max_positions * D;
  for (var d = lid; d < D; d += 64u) {
    q_s[d] = q[row * D + d];
  }
  workgroupBarrier();
  var m = NONE;
  var l = 0.0;
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  ${withProbs ? 'let probs_row = (h * params.tokens + t) * (params.position_offset + params.tokens);' : ''}
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
  for (var j = lid; j < params.position_offset + params.tokens; j += 64u) {
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
