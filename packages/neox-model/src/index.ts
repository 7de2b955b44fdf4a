export { checkConfigAgainstTensors, checkpointConfig } from './checkpoint-config.js';
export type { Activation, NeoXConfig, ParseConfigOptions } from './config.js';
export { CONFIG_LIMITS, parseNeoXConfig } from './config.js';
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
export type { HookRunner } from './hooks.js';
export { hookNames } from './hooks.js';
export type {
  Activation as ActivationValues,
  ActivationCache,
  Batch,
  Hook,
  LensLayer,
  TokenScores,
} from './interpret.js';
export {
  attentionPatterns,
  HookedActivation,
  logitLens,
  runWithCache,
  runWithHooks,
  scoreTokens,
  tokenLogprobs,
} from './interpret.js';
export { KVCache } from './kv-cache.js';
export type { MemoryEstimate } from './memory.js';
export { estimateMemory } from './memory.js';
export type { BatchForwardOptions, ForwardOptions, LoadOptions, LoadProgress } from './model.js';
export { NeoXModel } from './model.js';
export type { ModelSource, ResolvedSource, ResolveSourceOptions } from './model-source.js';
export { resolveModelSource } from './model-source.js';
export { pythiaConfig } from './pythia-config.js';
export { randomCheckpoint } from './random-checkpoint.js';
export type { CheckTokenIdsOptions } from './token-ids.js';
export { checkTokenIds } from './token-ids.js';
export { checkpointDtype, configDtype } from './weight-dtype.js';
export type { LayerWeights, NeoXWeights, WeightDtype } from './weights.js';
export { expectedShapes } from './weights.js';
