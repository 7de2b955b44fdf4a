export {
  type AdapterInfo,
  createDevice,
  Device,
  type DeviceFeatures,
  type DeviceLimits,
  type DeviceLostInfo,
  type DeviceOptions,
  type KernelDispatch,
} from './device.js';
export {
  BYTES_PER_ELEMENT,
  type DType,
  type DTypeArrays,
  type DTypeOfArray,
  type TensorData,
  type TypedArrayFor,
} from './dtype.js';
export {
  DeviceLostError,
  GpuExecutionError,
  KernelCompileError,
  LimitExceededError,
  NoAdapterError,
  ShapeError,
  TensorCoreError,
  TensorDisposedError,
  WebGPUUnavailableError,
} from './errors.js';
export { f16BitsToF32, f16BitsToF32Array, f32ArrayToF16Bits, f32ToF16Bits } from './f16.js';
export { workgroupGrid } from './grid.js';
export { add } from './ops/add.js';
export { argmax } from './ops/argmax.js';
export { embedding } from './ops/embedding.js';
export { type GeluOptions, gelu } from './ops/gelu.js';
export { layerNorm } from './ops/layer-norm.js';
export { matmul } from './ops/matmul.js';
export type { KernelConstants, PipelineCache } from './pipeline-cache.js';
export { Tensor } from './tensor.js';
