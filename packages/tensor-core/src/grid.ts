/**
 * Workgroup counts `[x, y]` with `x·y ≥ groups` and both within `maxPerDimension` (65535 by
 * default), for kernels that number their workgroups `wid.y · nwg.x + wid.x` and skip the excess.
 */
export function workgroupGrid(groups: number, maxPerDimension: number): [number, number] {
  if (groups <= maxPerDimension) return [Math.max(groups, 1), 1];
  const y = Math.ceil(groups / maxPerDimension);
  return [Math.ceil(groups / y), y];
}
