import { packingBindingWgsl } from './packing.js';

/**
 * Causal softmax of attention scores into the attention pattern (TransformerLens' hook_pattern),
 * one workgroup of 256 per row (head h, query row t), workgroups numbered h·T + t:
 *   pattern[h, t, j] = e^{s_j − m} / Σ_{i ≤ p} e^{s_i − m}   for j ≤ p,  m = max_{i ≤ p} s_i
 *   pattern[h, t, j] = 0                                      for p < j < S
 * with s = scores[h, t, ·] and p = position_offset + t (`packed`: p = packing[t].y).
 *
 * Layouts (row-major): scores and pattern f32 [H, T, S] (S = params.keys).
 *
 * Only entries j ≤ p of scores are read: whatever sits at j > p (−∞ from `attentionScoresWgsl`,
 * or anything a hook wrote) has no effect. Among the read entries, −∞ (bit pattern 0xff800000)
 * gets weight exactly 0, as in torch.softmax, so a hook can mask a key by writing −∞. WGSL may
 * assume no infinities or NaNs in arithmetic (compilers fold 0·x to 0), so scores are classified
 * by their bits, never by float comparisons: a row with a NaN or +∞ among its read entries, or
 * whose read entries are all −∞, has NaN (bits 0x7fc00000) at every j ≤ p (torch.softmax gives
 * NaN there too) and still 0 at j > p. Never a silent uniform row.
 *
 * Three strided passes over the row (invocation lid takes j = lid, lid + 256, …), each followed
 * by a tree reduction in workgroup memory: the max of the finite scores and the flags (any
 * finite; any NaN or +∞), then Σ e^{s − m}, then the writes; all in f32.
 */
export function causalSoftmaxWgsl(packed: boolean): string {
  const position = packed ? 'packing[t].y' : 'params.position_offset + t';
  return /* wgsl */ `// causal-softmax: pattern[h,t,j] = softmax_{j<=p}(scores[h,t,.]) for j <= p, else 0; f32 [H,T,S]
struct Params { tokens: u32, heads: u32, keys: u32, position_offset: u32 }
@group(0) @binding(0) var<storage, read> scores: array<f32>;
@group(0) @binding(1) var<storage, read_write> pattern: array<f32>;
${packed ? `${packingBindingWgsl(2)}\n` : ''}@group(0) @binding(${packed ? 3 : 2}) var<uniform> params: Params;
var<private> nan_bits: u32 = 0x7fc00000u;
const LOWEST = -3.4028234663852886e38; // the lowest finite f32
const NEG_INF_BITS = 0xff800000u;
const FINITE = 1u; // flag: some read score is finite
const BAD = 2u; // flag: some read score is NaN or +inf
var<workgroup> red_m: array<f32, 256>;
var<workgroup> red_f: array<u32, 256>;
var<workgroup> red_l: array<f32, 256>;

fn is_finite(bits: u32) -> bool {
  return (bits & 0x7fffffffu) < 0x7f800000u;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x; // h * T + t
  if (row >= params.tokens * params.heads) {
    return;
  }
  let t = row % params.tokens;
  let keys = ${position} + 1u;
  let base = row * params.keys;
  var m = LOWEST;
  var flags = 0u;
  for (var j = lid; j < keys; j += 256u) {
    let bits = bitcast<u32>(scores[base + j]);
    if (is_finite(bits)) {
      m = max(m, bitcast<f32>(bits));
      flags |= FINITE;
    } else if (bits != NEG_INF_BITS) {
      flags |= BAD;
    }
  }
  red_m[lid] = m;
  red_f[lid] = flags;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      red_m[lid] = max(red_m[lid], red_m[lid + stride]);
      red_f[lid] |= red_f[lid + stride];
    }
    workgroupBarrier();
  }
  m = red_m[0];
  flags = red_f[0];
  var l = 0.0;
  for (var j = lid; j < keys; j += 256u) {
    let bits = bitcast<u32>(scores[base + j]);
    if (is_finite(bits)) {
      l += exp(bitcast<f32>(bits) - m);
    }
  }
  red_l[lid] = l;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      red_l[lid] += red_l[lid + stride];
    }
    workgroupBarrier();
  }
  // The maximum itself contributes e^0 = 1, so l ≥ 1 whenever the row is valid.
  l = red_l[0];
  let valid = flags == FINITE;
  let nan = bitcast<f32>(nan_bits);
  for (var j = lid; j < params.keys; j += 256u) {
    var p = 0.0;
    if (j < keys) {
      let bits = bitcast<u32>(scores[base + j]);
      if (!valid) {
        p = nan;
      } else if (is_finite(bits)) {
        p = exp(bitcast<f32>(bits) - m) / l;
      }
    }
    pattern[base + j] = p;
  }
}
`;
}
