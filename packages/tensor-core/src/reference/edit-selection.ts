/** An edit for {@link editSelectionReference}: `TensorEdit` with values as CPU arrays. */
export interface EditSelectionReferenceEdit {
  op: 'zero' | 'scale' | 'add' | 'set';
  by?: number;
  values?: ArrayLike<number>;
  /** The shape of `values`; default `[values.length]`. */
  valuesShape?: readonly number[];
  select?: ReadonlyArray<ReadonlyArray<number> | null | undefined>;
  valuesAt?: 'selection' | 'target';
  valuesIndex?: ReadonlyArray<ReadonlyArray<number> | null | undefined>;
}

/**
 * CPU reference of `editSelection`: a copy of `target` (row-major, of `shape`, any rank) where
 * each element whose every coordinate is selected (`select[a]` lists axis a's indices; absent or
 * null: the whole axis) becomes 0, x·by, x + v or v, rounded to f32. With `valuesAt`
 * `'selection'` (default), v is values at the element's position within the selection (the
 * rank of its coordinate in each index list), broadcast numpy-style from `valuesShape`; with
 * `'target'`, v is values at the element's own coordinates; with `valuesIndex`, v is values
 * at the coordinates mapped per axis (`valuesIndex[a][k]` for the k-th index of `select[a]`, the
 * element's own coordinate on other axes).
 *
 * @example
 * ```ts
 * // [[1, 2], [3, 4]] with column 1 set to [10, 20]
 * editSelectionReference([1, 2, 3, 4], [2, 2], {
 *   op: 'set',
 *   values: [10, 20],
 *   valuesShape: [2, 1],
 *   select: [null, [1]],
 * }); // Float32Array [1, 10, 3, 20]
 * ```
 */
export function editSelectionReference(
  target: ArrayLike<number>,
  shape: readonly number[],
  edit: EditSelectionReferenceEdit,
): Float32Array<ArrayBuffer> {
  const rank = shape.length;
  const size = shape.reduce((a, b) => a * b, 1);
  if (target.length !== size) {
    throw new RangeError(`editSelectionReference: ${target.length} elements for [${shape}]`);
  }
  const select = edit.select ?? [];
  // Per axis: coordinate → position in the selection (-1: not selected).
  const positions = shape.map((dim, a) => {
    const indices = select[a];
    if (indices === null || indices === undefined) return Array.from({ length: dim }, (_, i) => i);
    const position = new Array<number>(dim).fill(-1);
    indices.forEach((index, k) => {
      position[index] = k;
    });
    return position;
  });
  const values = edit.values;
  const vShape = edit.valuesShape ?? (values ? [values.length] : []);
  const by = Math.fround(edit.by ?? 0);
  const y = new Float32Array(size);
  const coords = new Array<number>(rank).fill(0);
  for (let i = 0; i < size; i++) {
    let rest = i;
    for (let a = rank - 1; a >= 0; a--) {
      coords[a] = rest % shape[a]!;
      rest = Math.floor(rest / shape[a]!);
    }
    const x = target[i]!;
    const at = coords.map((c, a) => positions[a]![c]!);
    if (at.some((p) => p < 0)) {
      y[i] = x;
      continue;
    }
    const v = () => {
      const u = edit.valuesIndex
        ? coords.map((c, a) => {
            const mapped = edit.valuesIndex![a];
            return mapped && select[a] ? mapped[at[a]!]! : c;
          })
        : edit.valuesAt === 'target'
          ? coords
          : at;
      // Broadcast: values' dim j meets axis j − (values rank − rank); size-1 dims repeat.
      let offset = 0;
      for (let j = 0; j < vShape.length; j++) {
        const a = j - (vShape.length - rank);
        const index = a < 0 || vShape[j] === 1 ? 0 : u[a]!;
        offset = offset * vShape[j]! + index;
      }
      return values![offset]!;
    };
    switch (edit.op) {
      case 'zero':
        y[i] = 0;
        break;
      case 'scale':
        y[i] = x * by;
        break;
      case 'add':
        y[i] = x + v();
        break;
      case 'set':
        y[i] = v();
        break;
    }
  }
  return y;
}
