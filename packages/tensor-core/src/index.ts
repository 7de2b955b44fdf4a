// Kept in the published index.d.ts (`preserve`), so a consumer's compiler sees the WebGPU types
// that Device and Tensor use (`GPUDevice`, `GPUBuffer`, …) from this package's own dependency.
/// <reference types="@webgpu/types" preserve="true" />
export { measureReadBandwidth } from './bandwidth.js';
export {
  type AdapterInfo,
  createDevice,
  Device,
  type DeviceFeatures,
  type DeviceLimits,
  type DeviceLostInfo,
  type DeviceOptions,
  type DeviceStats,
  type KernelDispatch,
  type KernelTiming,
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
  FeatureUnavailableError,
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
export type { Activation } from './kernels/linear.js';
export { add } from './ops/add.js';
export { argmax } from './ops/argmax.js';
export {
  type AttentionOptions,
  type AttentionResult,
  attention,
  attentionWithProbs,
} from './ops/attention.js';
export {
  type AttentionPartsOptions,
  applyPattern,
  attentionScores,
  causalSoftmax,
} from './ops/attention-parts.js';
export { type CopyCacheRowsOptions, copyCacheRows } from './ops/copy-cache-rows.js';
export { dequantize } from './ops/dequantize.js';
export { copy, editSelection, type TensorEdit } from './ops/edit-selection.js';
export { embedding } from './ops/embedding.js';
export { type GeluOptions, gelu } from './ops/gelu.js';
export { type HeadOutputsOptions, headOutputs, sumHeads } from './ops/head-outputs.js';
export { type LayerNormOptions, layerNorm, layerNormScale } from './ops/layer-norm.js';
export { type MatmulOptions, matmul } from './ops/matmul.js';
export { rotary } from './ops/rotary.js';
export { type RotaryOptions, rotaryInverseFrequencies } from './ops/rotary-params.js';
export {
  ROW_SCORE_FIELDS,
  type RowScoreField,
  type RowScores,
  readRowScores,
  type ScoreRowsOptions,
  scoreRows,
  unpackRowScores,
} from './ops/score-rows.js';
export { splitQkv, type WriteKvCacheOptions, writeKvCache } from './ops/split-qkv.js';
export { type SplitQkvRotaryOptions, splitQkvRotary } from './ops/split-qkv-rotary.js';
export { MAX_TOPK, type TopK, topk } from './ops/topk.js';
export { type PackedSegment, packSequences, SequencePacking } from './packing.js';
export type { KernelConstants, PipelineCache } from './pipeline-cache.js';
export { QUANT_BLOCK, QUANT_BLOCK_WORDS } from './quant-blocks.js';
export {
  type QuantFormat,
  type QuantizedChunk,
  type QuantizedRows,
  QuantizedTensor,
  quantize,
  quantizeRows,
} from './quantized.js';
export { Tensor, type TensorChunk } from './tensor.js';
