// Activation patching, as TransformerLens' `patching` module computes it: the corrupted run with
// one piece of one activation (a position, a head, or a head at a position) taken from the
// clean run, scored by a metric, for every layer × piece. Each cell is one copy of the corrupted
// prompt in a packed batch with its own patch, so a grid is a few passes, not hundreds, and each
// pass starts at the block it patches.

import { editSelection, type Tensor } from '@pythiajs/tensor-core';
import { stepTokenLimit } from './batch.js';
import { DeviceActivationCache } from './device-activation-cache.js';
import { ForwardError } from './errors.js';
import type { Activation, HookedActivation } from './hooked-activation.js';
import {
  type ActivationCache,
  runWithCache,
  runWithDeviceCache,
  runWithHooks,
} from './interpret.js';
import type { NeoXModel } from './model.js';

/** What {@link activationPatching} patches, by its TransformerLens hook name in each block. */
export type PatchedActivation =
  | 'resid_pre'
  | 'resid_mid'
  | 'resid_post'
  | 'attn_out'
  | 'mlp_out'
  | 'z'
  | 'q'
  | 'k'
  | 'v'
  | 'pattern'
  | 'result';

const HOOK_OF: Record<PatchedActivation, string> = {
  resid_pre: 'hook_resid_pre',
  resid_mid: 'hook_resid_mid',
  resid_post: 'hook_resid_post',
  attn_out: 'hook_attn_out',
  mlp_out: 'hook_mlp_out',
  z: 'attn.hook_z',
  q: 'attn.hook_q',
  k: 'attn.hook_k',
  v: 'attn.hook_v',
  pattern: 'attn.hook_pattern',
  result: 'attn.hook_result',
};

/** Options of {@link activationPatching}. */
export interface PatchingOptions {
  /** The run patched into (TransformerLens' corrupted tokens). */
  corrupt: ArrayLike<number>;
  /**
   * The run patched from: its ids (its activations are then computed here), or its cache holding
   * the patched hook point of every layer: from `runWithCache`, or from `runWithDeviceCache`,
   * whose entries patch with no round trip through the CPU. Same length as `corrupt`.
   */
  clean: ArrayLike<number> | ActivationCache | DeviceActivationCache;
  /** The activation patched in each block. */
  activation: PatchedActivation;
  /**
   * The grid: `'position'` — `[layer][pos]` (every head at that position, for per-head
   * activations); `'head'` — `[layer][head]` at every position (TransformerLens'
   * `get_act_patch_attn_head_out_all_pos` for `z`); `'head-position'` — `[layer][pos][head]`.
   * Default `'position'`, or `'head'` for `pattern` (a head's whole pattern).
   */
  by?: 'position' | 'head' | 'head-position';
  /** Scores a patched run from its logits: the last position's `[vocab]` row, or all rows. */
  metric: (logits: Float32Array) => number;
  /** Which logits the metric gets (default the last position's). */
  logits?: 'last' | 'all';
  /** Patched runs per pass (default: as many as one step holds, at most 64). */
  batchSize?: number;
}

/** One cell of a grid: a layer, and the position and/or head patched (undefined: all). */
interface Cell {
  layer: number;
  pos: number | undefined;
  head: number | undefined;
}

/**
 * Activation patching over layers × positions, layers × heads or layers × positions × heads:
 * for each cell, the `corrupt` run with that piece of `activation` replaced by the `clean` run's,
 * scored by `metric`. Returns the grid of metric values.
 *
 * @example
 * ```ts
 * const { cache } = await runWithCache(model, cleanIds, { names: (n) => n.endsWith('hook_resid_pre') });
 * const grid = await activationPatching(model, {
 *   corrupt: corruptIds,
 *   clean: cache,
 *   activation: 'resid_pre',
 *   metric: (logits) => logits[answer] - logits[wrongAnswer],
 * }); // grid[layer][pos]
 * ```
 * @throws {ForwardError} the runs differ in length, the cache lacks the activation, or the
 *   activation has no head axis for a per-head grid.
 */
export async function activationPatching(
  model: NeoXModel,
  options: PatchingOptions & { by: 'head-position' },
): Promise<number[][][]>;
export async function activationPatching(
  model: NeoXModel,
  options: PatchingOptions & { by?: 'position' | 'head' },
): Promise<number[][]>;
export async function activationPatching(
  model: NeoXModel,
  options: PatchingOptions,
): Promise<number[][] | number[][][]>;
export async function activationPatching(
  model: NeoXModel,
  options: PatchingOptions,
): Promise<number[][] | number[][][]> {
  const { corrupt, activation, metric } = options;
  const { numLayers, numHeads, parallelResidual } = model.config;
  const suffix = HOOK_OF[activation];
  if (suffix === undefined) {
    throw new ForwardError(
      `activation must be one of ${Object.keys(HOOK_OF).join(', ')}; got ${String(activation)}`,
    );
  }
  if (activation === 'resid_mid' && parallelResidual) {
    throw new ForwardError('resid_mid exists only in sequential blocks; this model is parallel');
  }
  const perHead = ['z', 'q', 'k', 'v', 'pattern', 'result'].includes(activation);
  const by = options.by ?? (activation === 'pattern' ? 'head' : 'position');
  if (by !== 'position' && !perHead) {
    throw new ForwardError(`${activation} has no head axis; patch it by 'position'`);
  }
  if (activation === 'pattern' && by !== 'head') {
    throw new ForwardError(
      "pattern patching replaces a head's whole pattern (by: 'head'); for positions patch z, q, k or v",
    );
  }
  const names = Array.from({ length: numLayers }, (_, l) => `blocks.${l}.${suffix}`);
  let clean: ActivationCache | DeviceActivationCache;
  if (options.clean instanceof Map || options.clean instanceof DeviceActivationCache) {
    clean = options.clean;
  } else {
    if (options.clean.length !== corrupt.length) {
      throw new ForwardError(
        `clean and corrupt runs must have the same length (got ${options.clean.length} and ${corrupt.length} tokens)`,
      );
    }
    clean = (await runWithCache(model, options.clean, { names, returns: 'none' })).cache;
  }
  for (const name of names) {
    const a = clean.get(name);
    if (!a) throw new ForwardError(`the clean cache has no ${name}; run runWithCache with it`);
    const rows = activation === 'pattern' ? a.shape[1] : a.shape[0];
    if (rows !== corrupt.length) {
      throw new ForwardError(
        `the clean run has ${rows} tokens but the corrupt run ${corrupt.length}; patching needs runs of the same length`,
      );
    }
  }
  const T = corrupt.length;
  const cells: Cell[] = [];
  for (let layer = 0; layer < numLayers; layer++) {
    if (by === 'position')
      for (let pos = 0; pos < T; pos++) cells.push({ layer, pos, head: undefined });
    if (by === 'head')
      for (let head = 0; head < numHeads; head++) cells.push({ layer, pos: undefined, head });
    if (by === 'head-position') {
      for (let pos = 0; pos < T; pos++) {
        for (let head = 0; head < numHeads; head++) cells.push({ layer, pos, head });
      }
    }
  }
  const limit = stepTokenLimit(
    model.config,
    model.device.limits.maxStorageBufferBindingSize,
    false,
  );
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 64, Math.floor(limit / T)));
  // Block l of a copy patched at layer l starts from the corrupt run's residual entering it:
  // the blocks before it are the corrupt run's own, so each pass starts at its layer.
  const entering = Array.from({ length: numLayers }, (_, l) => `blocks.${l}.hook_resid_pre`);
  const { cache: corruptRun } = await runWithDeviceCache(model, corrupt, {
    names: entering,
    returns: 'none',
  });
  const values: number[] = [];
  try {
    for (let layer = 0; layer < numLayers; layer++) {
      const ofLayer = cells.filter((c) => c.layer === layer);
      for (let first = 0; first < ofLayer.length; first += batchSize) {
        const pass = ofLayer.slice(first, first + batchSize).map((cell, b) => ({ ...cell, b }));
        const source = clean.get(names[layer]!)!;
        const residual = tile(corruptRun.get(entering[layer]!)!, pass.length);
        const logits = await runWithHooks(
          model,
          pass.map(() => corrupt),
          { [names[layer]!]: (a) => patchCells(a, source, pass, T) },
          { logits: options.logits ?? 'last', startAtLayer: { layer, residual } },
        ).finally(() => residual.dispose());
        for (const row of logits) values.push(metric(row));
      }
    }
  } finally {
    corruptRun.dispose();
  }
  // Back into the grid's shape, in the order the cells were made.
  let at = 0;
  const take = (n: number) => {
    at += n;
    return values.slice(at - n, at);
  };
  if (by === 'position') return names.map(() => take(T));
  if (by === 'head') return names.map(() => take(numHeads));
  return names.map(() => Array.from({ length: T }, () => take(numHeads)));
}

/**
 * Sets each cell's piece of the packed activation from the clean run's entry: cell b is the copy
 * of the corrupt run in batch row b (rows b·T … b·T + T − 1, positions 0 … T − 1), and the entry
 * is read by absolute position, so a row takes the clean run's row of its own position. One edit
 * per head (every cell of a head is a list of rows).
 */
function patchCells(
  a: HookedActivation,
  source: Activation | Tensor<'f32'>,
  cells: Array<Cell & { b: number }>,
  T: number,
): void {
  for (const head of new Set(cells.map((c) => c.head))) {
    const rows: number[] = [];
    for (const c of cells) {
      if (c.head !== head) continue;
      for (let t = 0; t < T; t++) if (c.pos === undefined || c.pos === t) rows.push(c.b * T + t);
    }
    a.set(source, head === undefined ? { rows } : { rows, head });
  }
}

/** `copies` copies of a run's activation [T, …] one after another, [copies·T, …], on the GPU. */
function tile(run: Tensor<'f32'>, copies: number): Tensor<'f32'> {
  const T = run.shape[0]!;
  const rows = Array.from({ length: copies * T }, (_, r) => r);
  const empty = run.device.zeros([copies * T, ...run.shape.slice(1)]);
  const tiled = editSelection(empty, {
    op: 'set',
    values: run,
    select: [rows],
    valuesIndex: [rows.map((r) => r % T)],
  });
  empty.dispose();
  return tiled;
}
