import type { StorageType } from '../kernels/storage.js';
import type { Tensor } from '../tensor.js';

/** How kernels on `t`'s device read `t`: f16 is native only where the device enabled shader-f16. */
export function storageTypeOf(t: Tensor<'f32' | 'f16'>): StorageType {
  if (t.dtype === 'f32') return 'f32';
  return t.device.features.shaderF16 ? 'f16' : 'f16-packed';
}
