import { ShapeError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import {
  EDIT_NONE,
  EDIT_PARAMS_BYTES,
  type EditOp,
  editSelectionWgsl,
} from '../kernels/edit-selection.js';
import type { Tensor } from '../tensor.js';
import { checkDType, checkSameDevice } from './checks.js';

/** An edit of part of a tensor, for {@link editSelection}. */
export interface TensorEdit {
  /**
   * What happens to each selected element x: `'zero'` → 0 (ablation), `'scale'` → x·by,
   * `'add'` → x + v (e.g. a steering vector), `'set'` → v (patching). v comes from `values`.
   */
  op: 'zero' | 'scale' | 'add' | 'set';
  /** scale: the factor. */
  by?: number;
  /** add / set: f32 values (required for those ops, refused for the others). */
  values?: Tensor<'f32'>;
  /**
   * Per leading axis of target: the indices selected (distinct, in range, any order), or
   * null/undefined = the whole axis. Fewer entries than target's rank: the remaining axes are
   * whole. Default: everything. An element is edited when each of its coordinates is selected.
   */
  select?: ReadonlyArray<ReadonlyArray<number> | null | undefined>;
  /**
   * How values are indexed: `'selection'` (default) — values broadcast (numpy rules,
   * trailing-aligned, dims equal or 1) against the selection's shape (the target's shape with
   * each selected axis shrunk to its index count, in the given order); `'target'` — values have
   * the target's full shape and the element at the same coordinates is used (patching from
   * another run's activation). Ignored by `'zero'` and `'scale'`.
   */
  valuesAt?: 'selection' | 'target';
  /**
   * Instead of `valuesAt`: values of the target's rank, read at mapped coordinates. Per axis,
   * for each index of `select[a]` (in its order), the index along values' axis a to read; an
   * axis without a list (or taken whole) reads the element's own coordinate, so values must
   * have the target's size there. E.g. patching rows of a packed batch from one sequence's
   * cached activation: `select: [[7, 8]], valuesIndex: [[1, 2]]` sets rows 7 and 8 from that
   * activation's rows 1 and 2.
   */
  valuesIndex?: ReadonlyArray<ReadonlyArray<number> | null | undefined>;
}

const OPS: readonly EditOp[] = ['zero', 'scale', 'add', 'set'];

/**
 * A copy of target (f32, rank 1 to 4) with an op applied to a selection of its elements: the
 * GPU side of interpretability hooks (TransformerLens-style ablation, scaling, steering and
 * activation patching) without a round trip through the CPU. Returns a new f32 tensor of
 * target's shape; target is unchanged. One dispatch, one invocation per element.
 *
 * The selection is the product of per-axis index lists (`edit.select`); see {@link TensorEdit}
 * for how `values` line up with it. An empty index list selects nothing (the result is a copy).
 *
 * @throws {ShapeError} target's rank is outside 1..4; an index is out of range, repeated or not
 *   an integer; `select` has more entries than target has axes; `values` are missing (add, set),
 *   given to zero or scale, or not of a shape that fits (the message gives the expected shape);
 *   `by` is missing for scale or given to another op.
 *
 * @example
 * ```ts
 * // resid [tokens, hidden]; attnZ [tokens, heads, headDim]
 * const ablated = editSelection(attnZ, { op: 'zero', select: [null, [3]] }); // head 3, all tokens
 * const steered = editSelection(resid, { op: 'add', values: direction, select: [[5]] }); // direction [hidden]
 * const patched = editSelection(resid, {
 *   op: 'set',
 *   values: cleanResid, // [tokens, hidden], from another run
 *   valuesAt: 'target',
 *   select: [[2, 7]], // tokens 2 and 7
 * });
 * ```
 */
export function editSelection(target: Tensor<'f32'>, edit: TensorEdit): Tensor<'f32'> {
  checkDType('editSelection', 'target', target, 'f32');
  const { op, by, values, select = [], valuesAt = 'selection', valuesIndex } = edit;
  if (!OPS.includes(op)) {
    throw new ShapeError(`editSelection: op must be one of ${OPS.join(', ')}, got ${String(op)}`);
  }
  const shape = target.shape;
  const rank = shape.length;
  if (rank < 1 || rank > 4) {
    throw new ShapeError(
      `editSelection: target must have 1 to 4 dims, got ${target.toString()}; reshape it ` +
        '(tensor.reshape) so that the axes you select are among its first four',
    );
  }
  if (select.length > rank) {
    throw new ShapeError(
      `editSelection: select has ${select.length} entries but ${target.toString()} has ${rank} ` +
        'axes; give at most one index list (or null) per axis',
    );
  }
  if (op === 'scale') {
    if (typeof by !== 'number') {
      throw new ShapeError("editSelection: op 'scale' needs the factor `by`");
    }
  } else if (by !== undefined) {
    throw new ShapeError(`editSelection: \`by\` is for op 'scale' only, not '${op}'`);
  }
  const hasValues = op === 'add' || op === 'set';
  if (hasValues) {
    if (!values) {
      throw new ShapeError(`editSelection: op '${op}' needs values (an f32 tensor)`);
    }
    checkDType('editSelection', 'values', values, 'f32');
    checkSameDevice('editSelection', target, values);
  } else if (values) {
    throw new ShapeError(
      `editSelection: op '${op}' takes no values (they are for 'add' and 'set'); drop them`,
    );
  }
  if (valuesAt !== 'selection' && valuesAt !== 'target') {
    throw new ShapeError(
      `editSelection: valuesAt must be 'selection' or 'target', got ${String(valuesAt)}`,
    );
  }

  // Per axis, padded to 4 with leading whole axes of size 1: the table offset and index count.
  const pad = 4 - rank;
  const dims = [1, 1, 1, 1];
  const tableOffsets = [EDIT_NONE, EDIT_NONE, EDIT_NONE, EDIT_NONE];
  const selectionShape: number[] = [];
  const tableParts: Uint32Array[] = [];
  let tableLength = 0;
  for (let a = 0; a < rank; a++) {
    const size = shape[a]!;
    dims[pad + a] = size;
    const indices = select[a];
    if (indices === null || indices === undefined) {
      selectionShape.push(size);
      continue;
    }
    const table = new Uint32Array(size).fill(EDIT_NONE);
    indices.forEach((index, k) => {
      if (!Number.isInteger(index) || index < 0 || index >= size) {
        throw new ShapeError(
          `editSelection: index ${index} (select[${a}][${k}]) is out of range for axis ${a} of ` +
            `${target.toString()}, of size ${size}; indices must be integers in [0, ${size})`,
        );
      }
      if (table[index] !== EDIT_NONE) {
        throw new ShapeError(
          `editSelection: index ${index} appears twice in select[${a}] (at ${table[index]} and ` +
            `${k}); give each index once`,
        );
      }
      table[index] = k;
    });
    const mapped = valuesIndex?.[a];
    if (values && valuesIndex && !mapped) {
      // Mapped values, this axis unmapped: read at the element's own coordinate.
      for (const index of indices) table[index] = index;
    } else if (values && mapped) {
      if (mapped.length !== indices.length) {
        throw new ShapeError(
          `editSelection: valuesIndex[${a}] has ${mapped.length} entries but select[${a}] has ` +
            `${indices.length}; give one values index per selected index`,
        );
      }
      const extent = values.shape[a] ?? 0;
      indices.forEach((index, k) => {
        const v = mapped[k]!;
        if (!Number.isInteger(v) || v < 0 || v >= extent) {
          throw new ShapeError(
            `editSelection: valuesIndex[${a}][${k}] = ${v} is out of range for axis ${a} of ` +
              `values ${values.toString()}`,
          );
        }
        table[index] = v;
      });
    }
    tableOffsets[pad + a] = tableLength;
    tableParts.push(table);
    tableLength += size;
    selectionShape.push(indices.length);
  }

  const strides = [0, 0, 0, 0];
  if (values) {
    const expected = selectionShape;
    const vShape = values.shape;
    if (valuesIndex) {
      const fits =
        vShape.length === rank &&
        vShape.every((d, a) => (valuesIndex[a] && select[a]) || d === shape[a]);
      if (!fits) {
        throw new ShapeError(
          `editSelection: with valuesIndex, values must have the target's rank and its size on ` +
            `every axis without a valuesIndex list ([${shape.join(', ')}]), got ${values.toString()}`,
        );
      }
    } else if (valuesAt === 'target') {
      if (vShape.length !== rank || vShape.some((d, i) => d !== shape[i])) {
        throw new ShapeError(
          `editSelection: with valuesAt 'target', values must have the target's shape ` +
            `[${shape.join(', ')}], got ${values.toString()}`,
        );
      }
    } else {
      const fits = vShape.every((d, i) => {
        const j = i - (vShape.length - rank); // the selection axis that values' dim i meets
        return j < 0 ? d === 1 : d === expected[j] || d === 1;
      });
      if (!fits) {
        throw new ShapeError(
          `editSelection: values ${values.toString()} do not broadcast against the selection's ` +
            `shape [${selectionShape.join(', ')}] (target [${shape.join(', ')}] with each ` +
            'selected axis shrunk to its index count); give values of that shape, with 1 for ' +
            "dims to broadcast (leading dims may be left out), or valuesAt 'target' for values " +
            "of the target's shape",
        );
      }
    }
    // Row-major strides of values, aligned to the padded axes; 0 on its size-1 (broadcast) dims.
    let stride = 1;
    for (let i = vShape.length - 1; i >= 0; i--) {
      const axis = 4 - vShape.length + i;
      const d = vShape[i]!;
      if (axis >= 0 && d !== 1) strides[axis] = stride;
      stride *= d;
    }
  }

  const device = target.device;
  const y = device.empty(shape, 'f32');
  if (y.size === 0) return y;
  const tables = new Uint32Array(Math.max(tableLength, 1));
  let at = 0;
  for (const part of tableParts) {
    tables.set(part, at);
    at += part.length;
  }
  const tableTensor = device.tensor(tables);
  const params = new ArrayBuffer(EDIT_PARAMS_BYTES);
  const words = new Uint32Array(params);
  words.set(dims, 0);
  words.set(tableOffsets, 4);
  words.set(strides, 8);
  words[12] = target.size;
  // With valuesIndex the tables hold the values' indices, read like a selection's.
  words[13] = valuesAt === 'target' && !valuesIndex ? 1 : 0;
  new Float32Array(params)[14] = by ?? 0;
  device.dispatch({
    code: editSelectionWgsl(op),
    bindings: values ? [target, tableTensor, values, y] : [target, tableTensor, y],
    uniforms: words,
    workgroups: workgroupGrid(
      Math.ceil(target.size / 256),
      device.limits.maxComputeWorkgroupsPerDimension,
    ),
  });
  tableTensor.dispose();
  return y;
}

/**
 * A copy of an f32 tensor (rank 1 to 4) in a buffer of its own: an edit of nothing, one dispatch.
 *
 * @example
 * ```ts
 * const kept = copy(activation); // survives activation.dispose()
 * ```
 */
export function copy(t: Tensor<'f32'>): Tensor<'f32'> {
  return editSelection(t, { op: 'zero', select: [[]] });
}
