import type { QuantFormat } from '../quant-blocks.js';
import { erfWgsl } from './erf.js';
import { geluFnWgsl, geluTanhFnWgsl } from './gelu.js';
import { quantWeightWgsl } from './quant-weight.js';
import { absentArray, enableDirectives, readOnlyArray, type StorageType } from './storage.js';

/** Activation applied in a linear kernel's epilogue, after the bias. */
export type Activation = 'none' | 'gelu' | 'gelu-tanh';

/** What a linear kernel reads and how it finishes each output. */
export interface LinearVariant {
  /** How W is stored when it is a plain tensor (ignored when `quant` is set). */
  weight: StorageType;
  /** W is a quantized matrix in this format (see `quantWeightWgsl`); its storage type is unused. */
  quant?: QuantFormat;
  bias?: StorageType;
  /** An f32 [M, N] tensor added after the activation (a fused residual add). */
  residual?: boolean;
  activation?: Activation;
}

/**
 * The shared part of every linear kernel: `Params`, the bindings after x (binding 0) — W, then
 * b and r if present, then y, then the uniforms — and `store(m, n, acc)`, the epilogue
 *   y[m, n_offset + n] = act(acc + b[n_offset + n]) + r[m, n_offset + n],
 * where y, r are [M, n_total] row-major. A weight split into row chunks is dispatched once per
 * chunk with n = the chunk's rows and n_offset = its first row, writing its own columns of y.
 * `weightDeclaration` replaces the default `readOnlyArray('w', 1, …)` (vector kernels), or
 * `quantWeightWgsl` for a quantized weight.
 */
export function linearDeclarations(variant: LinearVariant, weightDeclaration?: string): string {
  const { bias, residual, activation = 'none' } = variant;
  let binding = 2;
  const lines = [
    enableDirectives(variant.quant ? undefined : variant.weight, bias),
    'struct Params { m: u32, n: u32, k: u32, n_total: u32, n_offset: u32 }',
    weightDeclaration ??
      (variant.quant ? quantWeightWgsl(variant.quant) : readOnlyArray('w', 1, variant.weight)),
    bias ? readOnlyArray('b', binding++, bias) : absentArray('b'),
    residual ? readOnlyArray('r', binding++, 'f32') : absentArray('r'),
    `@group(0) @binding(${binding++}) var<storage, read_write> y: array<f32>;`,
    `@group(0) @binding(${binding}) var<uniform> params: Params;`,
  ];
  if (activation === 'gelu') lines.push(erfWgsl, geluFnWgsl);
  if (activation === 'gelu-tanh') lines.push(geluTanhFnWgsl);
  const act = activation === 'gelu' ? 'gelu(v)' : activation === 'gelu-tanh' ? 'gelu_tanh(v)' : 'v';
  lines.push(`fn store(m: u32, n: u32, acc: f32) {
  let column = params.n_offset + n;
  let i = m * params.n_total + column;
  let v = acc + load_b(column);
  y[i] = ${act} + load_r(i);
}`);
  return lines.join('\n');
}

/** A short description of the variant for the kernel's first comment line (profiles, errors). */
export function variantName(variant: LinearVariant): string {
  const parts = [`W ${variant.quant ?? variant.weight}`];
  if (variant.bias) parts.push(`b ${variant.bias}`);
  if (variant.activation && variant.activation !== 'none') parts.push(variant.activation);
  if (variant.residual) parts.push('+ residual');
  return parts.join(', ');
}
