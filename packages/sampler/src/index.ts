export type { TokenProbability, TopKOptions } from './math.js';
export {
  argmax,
  logSoftmax,
  logSoftmaxAt,
  logSumExp,
  topKWithProbabilities,
} from './math.js';
export type { PenaltyScope, SamplerOptions, TokenHistory } from './options.js';
export { Prng } from './prng.js';
export type { SampledToken, Sampler, TokenLogprob } from './sampler.js';
export { createSampler } from './sampler.js';
