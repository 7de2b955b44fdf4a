export { Prng } from './prng.js';
export type { SampledToken, Sampler, SamplerOptions } from './sampler.js';
export { argmax, createSampler, logSoftmaxAt } from './sampler.js';
