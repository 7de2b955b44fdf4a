import { enableDirectives, readOnlyArray, type StorageType } from './storage.js';

// The three LayerNorm kernels below run one workgroup of 256 per row r of x f32 [R, C] and share
// these row statistics, in f32 and in two passes (the mean, then Σ(x − μ)², which avoids the
// cancellation of E[x²] − μ²). Each needs `x` and `params.cols` bound.
const rowStatistics = /* wgsl */ `var<workgroup> partial: array<f32, 256>;

fn workgroup_sum(lid: u32, value: f32) -> f32 {
  partial[lid] = value;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

// μ of the row that starts at element row of x.
fn row_mean(lid: u32, row: u32) -> f32 {
  var sum = 0.0;
  for (var c = lid; c < params.cols; c += 256u) {
    sum += x[row + c];
  }
  return workgroup_sum(lid, sum) / f32(params.cols);
}

// The biased variance σ² of that row, given its mean.
fn row_variance(lid: u32, row: u32, mean: f32) -> f32 {
  var squares = 0.0;
  for (var c = lid; c < params.cols; c += 256u) {
    let d = x[row + c] - mean;
    squares += d * d;
  }
  return workgroup_sum(lid, squares) / f32(params.cols);
}`;

/** The entry point's header: the row this workgroup owns (`r`, its first element `row`). */
const rowEntry = /* wgsl */ `@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= params.rows) {
    return;
  }
  let row = r * params.cols;`;

/**
 * LayerNorm over the last dimension: y[r,c] = (x[r,c] − μ_r)·(σ²_r + eps)^(−1/2)·w[c] + b[c], with
 * μ_r the mean and σ²_r the biased variance of row r. x, y f32 [R, C] row-major; w, b [C].
 */
export function layerNormWgsl(weight: StorageType, bias: StorageType): string {
  return /* wgsl */ `// layer_norm: y = (x - mean) / sqrt(var + eps) * w + b per row; x, y f32 [R,C]; w, b [C]
${enableDirectives(weight, bias)}
struct Params { rows: u32, cols: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
${readOnlyArray('w', 1, weight)}
${readOnlyArray('b', 2, bias)}
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;
${rowStatistics}

${rowEntry}
  let mean = row_mean(lid, row);
  let rstd = inverseSqrt(row_variance(lid, row, mean) + params.eps);
  for (var c = lid; c < params.cols; c += 256u) {
    y[row + c] = (x[row + c] - mean) * rstd * load_w(c) + load_b(c);
  }
}
`;
}

/**
 * LayerNorm's scale alone (TransformerLens' `ln.hook_scale`): s[r] = (σ²_r + eps)^(1/2). x f32
 * [R, C] row-major; s f32 [R] (a tensor [..., 1]).
 */
export const layerNormScaleWgsl = /* wgsl */ `// layer_norm_scale: s = sqrt(var + eps) per row; x f32 [R,C], s f32 [R]
struct Params { rows: u32, cols: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> s: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
${rowStatistics}

${rowEntry}
  let mean = row_mean(lid, row);
  let scale = sqrt(row_variance(lid, row, mean) + params.eps);
  if (lid == 0u) {
    s[r] = scale;
  }
}
`;

/**
 * LayerNorm with a given scale (TransformerLens' `ln.hook_scale` patched or frozen):
 * y[r,c] = (x[r,c] − μ_r)/s[r]·w[c] + b[c]. x, y f32 [R, C] row-major; s f32 [R]; w, b [C].
 * Only the mean is reduced.
 */
export function layerNormGivenScaleWgsl(weight: StorageType, bias: StorageType): string {
  return /* wgsl */ `// layer_norm_given_scale: y = (x - mean) / s * w + b per row; x, y f32 [R,C]; s f32 [R]; w, b [C]
${enableDirectives(weight, bias)}
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> s: array<f32>;
${readOnlyArray('w', 2, weight)}
${readOnlyArray('b', 3, bias)}
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;
${rowStatistics}

${rowEntry}
  let mean = row_mean(lid, row);
  let scale = s[r];
  for (var c = lid; c < params.cols; c += 256u) {
    y[row + c] = (x[row + c] - mean) / scale * load_w(c) + load_b(c);
  }
}
`;
}
