/**
 * Per-row scores of logits, reduced on the GPU so that only 6 numbers per row come back.
 * x f32 [R, C] row-major (one row chunk of the logits: rows `first_row …` of the whole tensor);
 * only columns c < W (W = vocabSize ≤ C) take part. targets u32 [R_total]; out f32 [R_total, 6].
 * With M = max_{c<W} x_c, S = Σ_{c<W} e^{x_c − M} and T = Σ_{c<W} e^{x_c − M}·(x_c − M):
 *
 *   out[r,0] = log p(t)  = (x_t − M) − log S              (NaN without targets or t ≥ W)
 *   out[r,1] = lse       = M + log S
 *   out[r,2] = entropy   = −Σ p_c log p_c = log S − T/S
 *   out[r,3] = rank      = #{c < W : x_c > x_t}            (NaN without targets, −1 if t ≥ W)
 *   out[r,4] = argmax    = the smallest c with x_c = M
 *   out[r,5] = log p(argmax) = −log S
 *
 * Every log-probability is formed from differences to M, never as x − lse: for logits near 1e4
 * the f32 lse has an ulp of 1e-3, while x_t − M and log S are exact or small. The entropy's
 * terms are all ≥ 0 (log S ≥ 0, −T/S ≥ 0), so it has no cancellation either.
 *
 * One workgroup of 256 per row, two passes over the row in global memory (a 50304-wide row is
 * 196 KiB, too large for workgroup memory): pass 1 finds the max with its first index and counts
 * the columns above the target, pass 2 sums S and T against the row's max, so every exp is
 * e^{≤0} and nothing overflows. NaN inputs give unspecified results; a row of only −∞ gives
 * lse −∞ and NaN log-probabilities and entropy.
 */
export function scoreRowsWgsl(withTargets: boolean): string {
  const out = withTargets ? 2 : 1;
  return /* wgsl */ `// score_rows: lse, log p(target), entropy, rank, argmax, max log p of each row; x f32 [R,C] -> out f32 [R,6]
struct Params { rows: u32, cols: u32, width: u32, first_row: u32, nan_bits: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
${withTargets ? '@group(0) @binding(1) var<storage, read> targets: array<u32>;' : ''}
@group(0) @binding(${out}) var<storage, read_write> out: array<f32>;
@group(0) @binding(${out + 1}) var<uniform> params: Params;
const NONE = 0xffffffffu;
var<workgroup> value_a: array<f32, 256>;
var<workgroup> value_b: array<f32, 256>;
var<workgroup> index_a: array<u32, 256>;
var<workgroup> count_a: array<u32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= params.rows) {
    return;
  }
  let row = r * params.cols;
  let width = params.width;
  let global_row = params.first_row + r;
  // NaN from a uniform: a NaN constant is a compile error in WGSL.
  let nan = bitcast<f32>(params.nan_bits);
  ${
    withTargets
      ? `let target_id = targets[global_row];
  let has_target = target_id < width;
  // An out-of-range id compares against nothing rather than reading another row.
  var target_logit = 0.0;
  if (has_target) {
    target_logit = x[row + target_id];
  }`
      : ''
  }

  // Pass 1: max with its first index (start from the invocation's first column, not −∞, so a
  // row of −∞ still has a winner), and the count of columns strictly above the target.
  var best = 0.0;
  var best_index = NONE;
  var above = 0u;
  for (var c = lid; c < width; c += 256u) {
    let v = x[row + c];
    if (best_index == NONE || v > best) {
      best = v;
      best_index = c;
    }
    ${withTargets ? 'above += select(0u, 1u, v > target_logit);' : ''}
  }
  value_a[lid] = best;
  index_a[lid] = best_index;
  count_a[lid] = above;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      let v = value_a[lid + stride];
      let i = index_a[lid + stride];
      let mine = index_a[lid];
      // NONE (a row narrower than the workgroup) never wins; equal values go to the lower index.
      if (i != NONE && (mine == NONE || v > value_a[lid] || (v == value_a[lid] && i < mine))) {
        value_a[lid] = v;
        index_a[lid] = i;
      }
      count_a[lid] += count_a[lid + stride];
    }
    workgroupBarrier();
  }
  let m = value_a[0];
  let argmax = index_a[0];
  let rank = count_a[0];
  workgroupBarrier();

  // Pass 2: S and T against the row's max.
  var s = 0.0;
  var t = 0.0;
  for (var c = lid; c < width; c += 256u) {
    let d = x[row + c] - m;
    let e = exp(d);
    s += e;
    // e = 0 for d = −∞ (a masked logit), where e·d would be NaN.
    t += select(0.0, e * d, e > 0.0);
  }
  value_a[lid] = s;
  value_b[lid] = t;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      value_a[lid] += value_a[lid + stride];
      value_b[lid] += value_b[lid + stride];
    }
    workgroupBarrier();
  }

  if (lid == 0u) {
    let log_s = log(value_a[0]);
    let o = global_row * 6u;
    ${
      withTargets
        ? `out[o] = select(nan, (target_logit - m) - log_s, has_target);
    out[o + 3u] = select(-1.0, f32(rank), has_target);`
        : `out[o] = nan;
    out[o + 3u] = nan;`
    }
    out[o + 1u] = m + log_s;
    out[o + 2u] = log_s - value_b[0] / value_a[0];
    out[o + 4u] = f32(argmax);
    out[o + 5u] = -log_s;
  }
}
`;
}
