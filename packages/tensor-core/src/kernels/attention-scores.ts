import { packingBindingWgsl, rowPlacementWgsl } from './packing.js';

/**
 * Scaled, causally masked attention scores (TransformerLens' hook_attn_scores: pre-softmax), one
 * workgroup of 64 per (head h, query row t), workgroups numbered h·T + t:
 *   scores[h, t, j] = (q[t,h,·]·k_cache[h, j, ·])·scale   for j ≤ p
 *   scores[h, t, j] = −∞                                   for p < j < S
 * with p = position_offset + t the query's absolute position and scale = 1/√D.
 * `packed` (several sequences, see packing.ts): (c, p) = packing[t], and key j of the query is
 * cache row c + j (its own sequence's rows c … c + p only), as in `attentionWgsl`.
 *
 * Layouts (row-major): q f32 [T, H, D] (D ≤ 256); k_cache f32 [H, P, D] (P = max_positions);
 * scores f32 [H, T, S], S = params.keys (position_offset + T, or `packed`: max_t p_t + 1), the
 * layout of `attentionWithProbs`'s probs.
 *
 * The workgroup stages q[t,h,·] in workgroup memory; invocation lid then scores keys
 * j = lid, lid + 64, … < S, each a serial f32 dot over D (the order of `attentionWgsl`'s scalar
 * path). WGSL may assume that no arithmetic makes or meets an infinity, and a constant −∞ does
 * not compile ("cannot be represented"), so the masked value is the bit pattern 0xff800000 held
 * in a private variable and only stored, never computed with.
 */
export function attentionScoresWgsl(packed: boolean): string {
  const place = rowPlacementWgsl(packed);
  return /* wgsl */ `// attention-scores: scores[h,t,j] = q[t,h].k[h,j] / sqrt(D) for j <= p, else -inf; f32 [H,T,S]
struct Params { tokens: u32, heads: u32, head_dim: u32, max_positions: u32, position_offset: u32,
  keys: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k_cache: array<f32>;
@group(0) @binding(2) var<storage, read_write> scores: array<f32>;
${packed ? `${packingBindingWgsl(3)}\n` : ''}@group(0) @binding(${packed ? 4 : 3}) var<uniform> params: Params;
var<private> masked_bits: u32 = 0xff800000u; // -inf (f32)
var<workgroup> q_s: array<f32, 256>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x; // h * T + t
  if (row >= params.tokens * params.heads) {
    return;
  }
  let D = params.head_dim;
  let t = row % params.tokens;
  let h = row / params.tokens;
  ${place}
  let q_row = (t * params.heads + h) * D;
  for (var d = lid; d < D; d += 64u) {
    q_s[d] = q[q_row + d];
  }
  workgroupBarrier();
  let out_row = row * params.keys;
  let masked = bitcast<f32>(masked_bits);
  for (var j = lid; j < params.keys; j += 64u) {
    if (j <= position) {
      let key = head + j * D;
      var qk = 0.0;
      for (var d = 0u; d < D; d++) {
        qk += q_s[d] * k_cache[key + d];
      }
      scores[out_row + j] = qk * params.scale;
    } else {
      scores[out_row + j] = masked;
    }
  }
}
`;
}
