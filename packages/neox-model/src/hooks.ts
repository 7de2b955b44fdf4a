import type { Tensor } from '@pythiajs/tensor-core';

/**
 * The hook points of a GPT-NeoX forward pass, named as TransformerLens names them for Pythia.
 * Pythia's blocks are parallel, so there is no `hook_resid_mid` unless the model is sequential.
 */
export function hookNames(numLayers: number, parallelResidual = true): string[] {
  const names = ['hook_embed'];
  for (let l = 0; l < numLayers; l++) {
    const b = `blocks.${l}`;
    names.push(
      `${b}.hook_resid_pre`,
      `${b}.ln1.hook_normalized`,
      `${b}.attn.hook_q`,
      `${b}.attn.hook_k`,
      `${b}.attn.hook_v`,
      `${b}.attn.hook_rot_q`,
      `${b}.attn.hook_rot_k`,
      `${b}.attn.hook_pattern`,
      `${b}.attn.hook_z`,
      `${b}.hook_attn_out`,
      ...(parallelResidual ? [] : [`${b}.hook_resid_mid`]),
      `${b}.ln2.hook_normalized`,
      `${b}.mlp.hook_pre`,
      `${b}.mlp.hook_post`,
      `${b}.hook_mlp_out`,
      `${b}.hook_resid_post`,
    );
  }
  names.push('ln_final.hook_normalized');
  return names;
}

/**
 * What a forward pass does at its hook points. The model asks `wants(name)` before it decides
 * between the fused fast path and an unfused one that materializes the activation, so hooks that
 * are off cost nothing.
 */
export interface HookRunner {
  wants(name: string): boolean;
  /** Called with the activation at `name`; returns it, or a replacement of the same shape. */
  visit(name: string, activation: Tensor<'f32'>): Tensor<'f32'>;
}
