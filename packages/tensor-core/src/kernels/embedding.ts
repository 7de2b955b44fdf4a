import { enableDirectives, readOnlyArray, type StorageType } from './storage.js';

/**
 * Embedding gather: y[t,c] = table[ids[t], c]. ids u32 (or i32, same bits) [T]; table [V, C]
 * row-major; y f32 [T, C]. One invocation per output element (2D grid as in `add`). A table split
 * into row chunks is dispatched per chunk: the chunk holding rows [row_offset, row_offset + rows)
 * writes the tokens whose id falls in it; the first chunk also writes zeros for ids ≥ V (or
 * negative), so no id reads out of bounds.
 */
export function embeddingWgsl(table: StorageType): string {
  return /* wgsl */ `// embedding: y[t,c] = table[ids[t], c]; ids u32 [T], table ${table} [V,C], y f32 [T,C]
${enableDirectives(table)}
struct Params { tokens: u32, cols: u32, rows: u32, row_offset: u32, vocab: u32 }
@group(0) @binding(0) var<storage, read> ids: array<u32>;
${readOnlyArray('table', 1, table)}
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.tokens * params.cols) {
    return;
  }
  let t = i / params.cols;
  let c = i % params.cols;
  let id = ids[t];
  if (id >= params.row_offset && id - params.row_offset < params.rows) {
    y[i] = load_table((id - params.row_offset) * params.cols + c);
  } else if (params.row_offset == 0u && id >= params.vocab) {
    y[i] = 0.0;
  }
}
`;
}
