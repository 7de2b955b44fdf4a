import type { Tensor } from '@pythiajs/tensor-core';

/**
 * The hook points of a GPT-NeoX forward pass, named and ordered as TransformerLens names them
 * for Pythia. Pythia's blocks are parallel, so there is no `hook_resid_mid` unless the model is
 * sequential. `attn.hook_result` (each head's write into the residual stream, TransformerLens'
 * `use_attn_result`) is computed only when a hook asks for it: it is heads × larger than
 * `hook_attn_out`.
 */
export function hookNames(numLayers: number, parallelResidual = true): string[] {
  const names = ['hook_embed'];
  for (let l = 0; l < numLayers; l++) {
    const b = `blocks.${l}`;
    names.push(
      `${b}.hook_resid_pre`,
      `${b}.ln1.hook_scale`,
      `${b}.ln1.hook_normalized`,
      `${b}.attn.hook_q`,
      `${b}.attn.hook_k`,
      `${b}.attn.hook_v`,
      `${b}.attn.hook_rot_q`,
      `${b}.attn.hook_rot_k`,
      `${b}.attn.hook_attn_scores`,
      `${b}.attn.hook_pattern`,
      `${b}.attn.hook_z`,
      `${b}.attn.hook_result`,
      `${b}.hook_attn_out`,
      ...(parallelResidual ? [] : [`${b}.hook_resid_mid`]),
      `${b}.ln2.hook_scale`,
      `${b}.ln2.hook_normalized`,
      `${b}.mlp.hook_pre`,
      `${b}.mlp.hook_post`,
      `${b}.hook_mlp_out`,
      `${b}.hook_resid_post`,
    );
  }
  names.push('ln_final.hook_scale', 'ln_final.hook_normalized');
  return names;
}

/**
 * The axes of a hook point's activation, TransformerLens' order without the batch axis (a
 * batch's activations are packed: the `pos` rows of every sequence, one after another):
 * - `attn.hook_q/k/v/rot_q/rot_k/z`: `[pos, head, d_head]`;
 * - `attn.hook_attn_scores`, `attn.hook_pattern`: `[head, dest, src]` (`src` counts the
 *   sequence's positions from 0, so it is as long as the longest context of the step);
 * - `attn.hook_result`: `[pos, head, d_model]`;
 * - `ln*.hook_scale`: `[pos, 1]`;
 * - the rest: `[pos, d]` (`d` is d_model, or d_mlp for `mlp.hook_pre/post`).
 */
export function hookAxes(name: string): readonly string[] {
  if (/attn\.hook_(q|k|v|rot_q|rot_k|z)$/.test(name)) return ['pos', 'head', 'd_head'];
  if (/attn\.hook_(attn_scores|pattern)$/.test(name)) return ['head', 'dest', 'src'];
  if (name.endsWith('attn.hook_result')) return ['pos', 'head', 'd_model'];
  if (name.endsWith('hook_scale')) return ['pos', 'scale'];
  return ['pos', 'd'];
}

/**
 * Where the rows of one forward step sit: the step runs `counts[i]` tokens of sequence i, from
 * its position `starts[i]` on (the tokens it had cached), sequence after sequence. A prefill of
 * one sequence is `{ counts: [T], starts: [0] }`; a decode step of it `{ counts: [1], starts: [n] }`.
 */
export interface HookStep {
  readonly counts: readonly number[];
  readonly starts: readonly number[];
}

/**
 * What a forward pass does at its hook points. The model asks `wants(name)` before it decides
 * between the fused fast path and an unfused one that materializes the activation, so hooks that
 * are off cost nothing.
 */
export interface HookRunner {
  wants(name: string): boolean;
  /**
   * Called with the activation at `name` (shaped as {@link hookAxes} says) and the layout of the
   * step's rows; returns it, or a replacement of the same shape, which is what the rest of the
   * pass uses.
   */
  visit(name: string, activation: Tensor<'f32'>, step: HookStep): Tensor<'f32'>;
}
