/**
 * The binding that the packing variants of the attention-side kernels (split-qkv-rotary, rotary,
 * kv-cache-write, attention) add before their uniforms: the table of a `SequencePacking`,
 * u32 [T, 2] row-major read as vec2u, packing[t] = (cache_start, position) of packed row t. Row t
 * then sits at position p = packing[t].y of its sequence, its k and v at cache row
 * packing[t].x + p, and its query sees cache rows packing[t].x … packing[t].x + p; without the
 * table the same kernels use p = position_offset + t and cache row p.
 */
export function packingBindingWgsl(binding: number): string {
  return `@group(0) @binding(${binding}) var<storage, read> packing: array<vec2u>; // (cache_start, position) per row`;
}

/**
 * WGSL statements placing query row t of head h (with t, h and D = head_dim in scope): its
 * absolute `position` p, its key count `keys` = p + 1, and `head`, where key 0 of its head starts
 * in a cache [H, max_positions, D] (`packed`: at its sequence's cache_start; else at row 0, with
 * p = params.position_offset + t).
 */
export function rowPlacementWgsl(packed: boolean): string {
  return packed
    ? `let entry = packing[t]; // (cache_start, position)
  let position = entry.y;
  let keys = position + 1u;
  let head = (h * params.max_positions + entry.x) * D;`
    : `let position = params.position_offset + t;
  let keys = position + 1u;
  let head = h * params.max_positions * D;`;
}
