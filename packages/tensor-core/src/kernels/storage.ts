/**
 * How a kernel sees a read-only tensor: `f32`, native `f16` (needs `shader-f16`), or `f16-packed`:
 * the same 2-byte-per-element buffer viewed as `array<u32>`, element i being half i & 1 (low
 * half first) of word i >> 1, as `unpack2x16float` splits it.
 */
export type StorageType = 'f32' | 'f16' | 'f16-packed';

/**
 * WGSL declaring `name` as read-only storage at `@binding(binding)` plus `load_<name>(i: u32) -> f32`
 * reading element i widened to f32, so one kernel body serves every storage type.
 */
export function readOnlyArray(name: string, binding: number, type: StorageType): string {
  const at = `@group(0) @binding(${binding})`;
  switch (type) {
    case 'f32':
      return `${at} var<storage, read> ${name}: array<f32>;
fn load_${name}(i: u32) -> f32 { return ${name}[i]; }`;
    case 'f16':
      return `${at} var<storage, read> ${name}: array<f16>;
fn load_${name}(i: u32) -> f32 { return f32(${name}[i]); }`;
    default:
      return `${at} var<storage, read> ${name}: array<u32>;
fn load_${name}(i: u32) -> f32 { return unpack2x16float(${name}[i >> 1u])[i & 1u]; }`;
  }
}

/** `load_<name>(i)` returning 0, for an optional tensor (e.g. a bias) that is absent. */
export function absentArray(name: string): string {
  return `fn load_${name}(i: u32) -> f32 { return 0.0; }`;
}

/** The `enable f16;` directive when any of `types` is native f16, else nothing. */
export function enableDirectives(...types: (StorageType | undefined)[]): string {
  return types.includes('f16') ? 'enable f16;' : '';
}
