export { CheckpointHubError, InvalidModelRefError } from './errors.js';
export type { ModelRef, PythiaModel } from './pythia.js';
export {
  PYTHIA_MODELS,
  PYTHIA_ORG,
  parseModelRef,
  pythiaCheckpointSteps,
  pythiaCheckpoints,
  pythiaModel,
} from './pythia.js';
