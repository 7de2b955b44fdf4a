// CPU references of every kernel, in plain TypeScript: the specification the GPU kernels are
// tested against, exported so that other packages can test their GPU paths the same way.
export { addReference } from './add.js';
export { argmaxReference } from './argmax.js';
export {
  type AttentionReferenceSizes,
  applyPatternReference,
  attentionReference,
  attentionScoresReference,
  type CausalSoftmaxReferenceSizes,
  causalSoftmaxReference,
  splitQkvReference,
  splitQkvRotaryReference,
} from './attention.js';
export { copyCacheRowsReference } from './copy-cache-rows.js';
export {
  type EditSelectionReferenceEdit,
  editSelectionReference,
} from './edit-selection.js';
export { embeddingReference } from './embedding.js';
export { erf, erfc } from './erf.js';
export { geluReference, geluTanhReference } from './gelu.js';
export { headOutputsReference, sumHeadsReference } from './head-outputs.js';
export { layerNormReference, layerNormScaleReference } from './layer-norm.js';
export { matmulReference } from './matmul.js';
export { type QuantizedReference, quantizeReference } from './quantize.js';
export { type RotaryReferenceOptions, rotaryReference } from './rotary.js';
export { scoreRowsReference } from './score-rows.js';
export { topkReference } from './topk.js';
