/** What {@link editSelectionWgsl} does to a selected element. */
export type EditOp = 'zero' | 'scale' | 'add' | 'set';

/** The `tables` offset of an axis taken whole, and a table's "coordinate not selected". */
export const EDIT_NONE = 0xffffffff;

/** Bytes of the kernel's uniform `Params`. */
export const EDIT_PARAMS_BYTES = 64;

const body: Record<EditOp, string> = {
  zero: 'y[i] = 0.0;',
  scale: 'y[i] = x[i] * params.by;',
  add: 'y[i] = x[i] + values[value_index(s, c)];',
  set: 'y[i] = values[value_index(s, c)];',
};

/**
 * An edit of a selection of a tensor (interpretability hooks: ablate, scale, add a steering
 * vector, patch): y = x except where every coordinate is selected, where y = 0 (`zero`), x·by
 * (`scale`), x + v (`add`) or v (`set`).
 *
 * x, y f32 [D0, D1, D2, D3] row-major (lower ranks padded with leading 1s); one invocation per
 * element, 256 per workgroup over a 2D grid (see `workgroupGrid`), decomposing i into c0..c3.
 * Per axis a, `tables` (u32) from `params.tables[a]` maps c_a to its index s_a within the
 * selection of axis a, or EDIT_NONE where c_a is not selected; `params.tables[a]` = EDIT_NONE
 * marks an axis taken whole (s_a = c_a, no table). values f32 is read at
 * Σ_a u_a·params.strides[a], u = s (values indexed by the selection, stride 0 on broadcast
 * dims) or u = c when `params.by_target` = 1 (values of the target's shape).
 */
export function editSelectionWgsl(op: EditOp): string {
  const hasValues = op === 'add' || op === 'set';
  const y = hasValues ? 3 : 2;
  return /* wgsl */ `// edit_selection: y = x off the selection, ${op} on it; x, y f32 [D0,D1,D2,D3]
struct Params {
  dims: vec4u,
  tables: vec4u,
  strides: vec4u,
  n: u32,
  by_target: u32,
  by: f32,
}
const NONE = 0xffffffffu;
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> tables: array<u32>;
${hasValues ? '@group(0) @binding(2) var<storage, read> values: array<f32>;' : ''}
@group(0) @binding(${y}) var<storage, read_write> y: array<f32>;
@group(0) @binding(${y + 1}) var<uniform> params: Params;

// The index within axis a's selection of coordinate c (NONE: not selected).
fn selected(table: u32, c: u32) -> u32 {
  if (table == NONE) {
    return c;
  }
  return tables[table + c];
}
${
  hasValues
    ? `
fn value_index(s: vec4u, c: vec4u) -> u32 {
  let u = select(s, c, params.by_target == 1u);
  let p = u * params.strides;
  return p.x + p.y + p.z + p.w;
}
`
    : ''
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) {
    return;
  }
  let d = params.dims;
  var rest = i;
  let c3 = rest % d.w;
  rest /= d.w;
  let c2 = rest % d.z;
  rest /= d.z;
  let c1 = rest % d.y;
  let c0 = rest / d.y;
  let c = vec4u(c0, c1, c2, c3);
  let s = vec4u(
    selected(params.tables.x, c0),
    selected(params.tables.y, c1),
    selected(params.tables.z, c2),
    selected(params.tables.w, c3),
  );
  if (any(s == vec4u(NONE))) {
    y[i] = x[i];
    return;
  }
  ${body[op]}
}
`;
}
