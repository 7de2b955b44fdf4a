export { meanActivation, stackActivations } from './activation-cache.js';
export type {
  ActivationsProgress,
  WriteActivationsOptions,
  WrittenActivations,
} from './activations-to-disk.js';
export { resolveActivationNames, writeActivations } from './activations-to-disk.js';
export type {
  AccumulatedResidOptions,
  AttributionNamesOptions,
  DirectLogitAttribution,
  DirectLogitAttributionOptions,
  HeadResultsOptions,
  LogitAttrs,
  LogitAttrsOptions,
  ResidualStack,
  StackOptions,
  TokenChoice,
} from './attribution.js';
export {
  accumulatedResid,
  attributionNames,
  decomposeResid,
  directLogitAttribution,
  logitAttrs,
  stackHeadResults,
} from './attribution.js';
export { checkConfigAgainstTensors, checkpointConfig } from './checkpoint-config.js';
export type { Activation, NeoXConfig, ParseConfigOptions } from './config.js';
export { CONFIG_LIMITS, parseNeoXConfig } from './config.js';
export type {
  ContinuationRequest,
  ContinuationScore,
  ScoreContinuationsOptions,
  ScoreGroupsOptions,
} from './continuation-scores.js';
export { scoreContinuationGroups, scoreContinuations } from './continuation-scores.js';
export { DeviceActivationCache } from './device-activation-cache.js';
export {
  ConfigMismatchError,
  ContextOverflowError,
  ForwardError,
  InvalidConfigError,
  InvalidInputError,
  ModelSourceError,
  NeoXModelError,
  NonFiniteWeightsError,
  OutOfMemoryError,
  TokenOutOfVocabularyError,
  UnsupportedWeightsError,
} from './errors.js';
export type {
  BatchGenerateRequest,
  GeneratedToken,
  GenerateOptions,
  GenerationResult,
  StopReason,
  TokenizerLike,
} from './generate.js';
export { generate, generateBatch } from './generate.js';
export type {
  Activation as ActivationValues,
  HookValues,
  Selection,
} from './hooked-activation.js';
export { HookedActivation } from './hooked-activation.js';
export type { HookRunner, HookStep } from './hooks.js';
export { hookAxes, hookNames } from './hooks.js';
export type {
  ActivationCache,
  Batch,
  Hook,
  HookNames,
  RunOptions,
  RunResult,
  RunReturns,
  TokenScores,
} from './interpret.js';
export {
  attentionPatterns,
  hookRunner,
  runWithCache,
  runWithDeviceCache,
  runWithHooks,
  scoreTokens,
  tokenLogprobs,
} from './interpret.js';
export { KVCache } from './kv-cache.js';
export type { BatchLogitLensOptions, LensLayer, LogitLensOptions } from './logit-lens.js';
export { logitLens, NO_RANK } from './logit-lens.js';
export type { MemoryEstimate } from './memory.js';
export { estimateMemory } from './memory.js';
export type { BatchForwardOptions, ForwardOptions, LoadOptions, LoadProgress } from './model.js';
export { NeoXModel } from './model.js';
export type { ModelSource, ResolvedSource, ResolveSourceOptions } from './model-source.js';
export { resolveModelSource } from './model-source.js';
export { parameterNames, readParameter } from './parameters.js';
export type { PatchedActivation, PatchingOptions } from './patching.js';
export { activationPatching } from './patching.js';
export { pythiaConfig } from './pythia-config.js';
export type { QuantizedCacheEvent } from './quantized-cache.js';
export { quantizedCacheKey } from './quantized-cache.js';
export { randomCheckpoint } from './random-checkpoint.js';
export type { CheckTokenIdsOptions } from './token-ids.js';
export { checkTokenIds } from './token-ids.js';
export { checkpointDtype, configDtype } from './weight-dtype.js';
export type { LayerWeights, MatrixWeight, NeoXWeights, WeightDtype } from './weights.js';
export { expectedShapes, isQuantized, unquantizableMatrix } from './weights.js';
