import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copy, type Device, editSelection, ShapeError, type TensorEdit } from '../src/index.js';
import { type EditSelectionReferenceEdit, editSelectionReference } from '../src/reference/index.js';
import { testDevice } from './gpu.js';
import { randomFloats } from './numbers.js';

/** A CPU-side edit: the reference's, with values as an array of their shape. */
type Case = Omit<EditSelectionReferenceEdit, 'values' | 'valuesShape'> & {
  values?: Float32Array<ArrayBuffer>;
  valuesShape?: readonly number[];
};

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

describe('editSelection', () => {
  let device: Device;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  /** Runs the edit on the GPU and the reference and expects the same f32 bits. */
  async function expectMatches(shape: readonly number[], edit: Case, seed = 1) {
    const x = randomFloats(sizeOf(shape), seed, -4, 4);
    const target = device.tensor(x, shape);
    const { values, valuesShape, ...rest } = edit;
    const gpuEdit: TensorEdit = {
      ...rest,
      ...(values ? { values: device.tensor(values, valuesShape ?? [values.length]) } : {}),
    };
    const y = editSelection(target, gpuEdit);
    expect(y.shape).toEqual(shape);
    const expected = editSelectionReference(x, shape, {
      ...rest,
      ...(values ? { values, valuesShape: valuesShape ?? [values.length] } : {}),
    });
    const actual = await y.read();
    expect(Array.from(actual)).toEqual(Array.from(expected));
    // The target is left as it was.
    expect(Array.from(await target.read())).toEqual(Array.from(x));
    return actual;
  }

  it('zeroes, scales, adds to and sets everything by default', async () => {
    const shape = [3, 5];
    await expectMatches(shape, { op: 'zero' });
    await expectMatches(shape, { op: 'scale', by: -0.375 });
    await expectMatches(shape, { op: 'add', values: randomFloats(15, 2), valuesShape: shape });
    const set = await expectMatches(shape, {
      op: 'set',
      values: randomFloats(15, 3),
      valuesShape: shape,
    });
    expect(Array.from(set)).toEqual(Array.from(randomFloats(15, 3)));
  });

  it('edits rows of axis 0 in the given order, values compact over the selection', async () => {
    const shape = [5, 3];
    const select = [[3, 0]];
    await expectMatches(shape, { op: 'zero', select });
    await expectMatches(shape, { op: 'scale', by: 2.5, select });
    const values = new Float32Array([10, 11, 12, 20, 21, 22]);
    const y = await expectMatches(shape, { op: 'set', select, values, valuesShape: [2, 3] });
    // Row 3 gets values' row 0, row 0 gets values' row 1.
    expect(Array.from(y.subarray(9, 12))).toEqual([10, 11, 12]);
    expect(Array.from(y.subarray(0, 3))).toEqual([20, 21, 22]);
    await expectMatches(shape, { op: 'add', select, values, valuesShape: [2, 3] });
  });

  it('edits one index of axis 1 with axis 0 whole (a head of z [tokens, heads, headDim])', async () => {
    const shape = [4, 3, 6];
    const select = [null, [1]];
    const zeroed = await expectMatches(shape, { op: 'zero', select });
    for (let t = 0; t < 4; t++) {
      expect(Array.from(zeroed.subarray(t * 18 + 6, t * 18 + 12))).toEqual(new Array(6).fill(0));
    }
    await expectMatches(shape, { op: 'scale', by: 0.5, select: [undefined, [2]] });
    await expectMatches(shape, {
      op: 'set',
      select,
      values: randomFloats(4 * 6, 4),
      valuesShape: [4, 1, 6],
    });
    await expectMatches(shape, {
      op: 'add',
      select,
      values: randomFloats(6, 5),
      valuesShape: [6],
    });
  });

  it('edits a product of selections on several axes of a rank-4 tensor', async () => {
    const shape = [4, 3, 2, 5];
    const select = [[1, 3], [2, 0], null, [4, 0, 2]];
    await expectMatches(shape, { op: 'zero', select });
    await expectMatches(shape, { op: 'scale', by: -3, select });
    await expectMatches(shape, {
      op: 'set',
      select,
      values: randomFloats(2 * 2 * 2 * 3, 6),
      valuesShape: [2, 2, 2, 3],
    });
    // Broadcast over axes 1 and 2 (size-1 dims), and a leading 1 beyond the target's rank.
    await expectMatches(shape, {
      op: 'add',
      select,
      values: randomFloats(2 * 3, 7),
      valuesShape: [1, 2, 1, 1, 3],
    });
  });

  it('broadcasts one row to every selected row (a steering vector)', async () => {
    const shape = [6, 8];
    const direction = randomFloats(8, 8);
    const y = await expectMatches(shape, {
      op: 'add',
      select: [[1, 4]],
      values: direction,
      valuesShape: [8],
    });
    const x = randomFloats(48, 1, -4, 4);
    for (let c = 0; c < 8; c++) expect(y[8 + c]).toBe(Math.fround(x[8 + c]! + direction[c]!));
    await expectMatches(shape, { op: 'set', values: new Float32Array([7]), valuesShape: [1, 1] });
    await expectMatches(shape, { op: 'set', values: new Float32Array([7]), valuesShape: [] });
  });

  it("reads values at the target's coordinates with valuesAt 'target' (patching)", async () => {
    const shape = [5, 2, 4];
    const clean = randomFloats(40, 9);
    const select = [[4, 1], null, [3]];
    const y = await expectMatches(shape, {
      op: 'set',
      select,
      values: clean,
      valuesShape: shape,
      valuesAt: 'target',
    });
    const x = randomFloats(40, 1, -4, 4);
    for (let i = 0; i < 40; i++) {
      const [t, c] = [Math.floor(i / 8), i % 4];
      expect(y[i]).toBe((t === 4 || t === 1) && c === 3 ? clean[i] : x[i]);
    }
    await expectMatches(shape, {
      op: 'add',
      select,
      values: clean,
      valuesShape: shape,
      valuesAt: 'target',
    });
  });

  it('reads values at mapped coordinates with valuesIndex (rows of a batch from one cached run)', async () => {
    // Target: a packed batch [2 sequences × 4 rows, 3 heads, 5]; values: one run's [6, 3, 5].
    const values = randomFloats(6 * 3 * 5, 77);
    for (const op of ['set', 'add'] as const) {
      await expectMatches([8, 3, 5], {
        op,
        select: [[1, 6, 7], [2]],
        valuesIndex: [[1, 2, 3]], // row 1 ← position 1; rows 6, 7 ← positions 2, 3; head 2 as is
        values,
        valuesShape: [6, 3, 5],
      });
    }
    // Unselected axes and selected axes without a list read their own coordinate.
    await expectMatches([4, 3, 5], {
      op: 'set',
      select: [
        [0, 3],
        [0, 2],
      ],
      valuesIndex: [[5, 4]],
      values,
      valuesShape: [6, 3, 5],
    });
    const target = device.zeros([4, 3, 5]);
    const v = device.tensor(values, [6, 3, 5]);
    expect(() =>
      editSelection(target, { op: 'set', values: v, select: [[0]], valuesIndex: [[6]] }),
    ).toThrow(/valuesIndex\[0\]\[0\] = 6 is out of range for axis 0/);
    expect(() =>
      editSelection(target, { op: 'set', values: v, select: [[0, 1]], valuesIndex: [[1]] }),
    ).toThrow(/valuesIndex\[0\] has 1 entries but select\[0\] has 2/);
    expect(() =>
      editSelection(device.zeros([4, 2, 5]), {
        op: 'set',
        values: v,
        select: [[0]],
        valuesIndex: [[1]],
      }),
    ).toThrow(/its size on every axis without a valuesIndex list/);
  });

  it('keeps -Infinity (and other non-finite values) that set writes', async () => {
    const values = new Float32Array([Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY]);
    const y = await expectMatches([3, 4], {
      op: 'set',
      select: [null, [2, 0]],
      values,
      valuesShape: [2],
    });
    expect(Array.from(y.filter((_, i) => i % 4 === 2))).toEqual(new Array(3).fill(-Infinity));
    expect(Array.from(y.filter((_, i) => i % 4 === 0))).toEqual(new Array(3).fill(Infinity));
  });

  it('copy gives the same values in a buffer of its own', async () => {
    const x = device.tensor(randomFloats(3 * 5, 9), [3, 5]);
    const y = copy(x);
    expect(y.shape).toEqual([3, 5]);
    expect(y.buffer).not.toBe(x.buffer);
    const expected = await x.read();
    x.dispose();
    expect(Array.from(await y.read())).toEqual(Array.from(expected));
  });

  it('copies the target when a selection is empty', async () => {
    const shape = [3, 4];
    const x = randomFloats(12, 1, -4, 4);
    const y = await expectMatches(shape, { op: 'zero', select: [[]] });
    expect(Array.from(y)).toEqual(Array.from(x));
    await expectMatches(shape, {
      op: 'set',
      select: [null, []],
      values: new Float32Array(0),
      valuesShape: [3, 0],
    });
  });

  it('covers ranks 1 to 4 and many workgroups (random selections vs the reference)', async () => {
    const ops = ['zero', 'scale', 'add', 'set'] as const;
    const shapes = [[1000], [37, 29], [9, 7, 13], [3, 5, 4, 21], [600, 3]];
    let seed = 100;
    for (const shape of shapes) {
      for (const op of ops) {
        seed++;
        const r = randomFloats(shape.length * 2, seed, 0, 1);
        // Per axis: whole, or a shuffled subset of about half the indices.
        const select = shape.map((dim, a) => {
          if (r[a]! < 0.3) return null;
          const order = Array.from(randomFloats(dim, seed * 7 + a), (v, i) => [v, i] as const);
          order.sort((p, q) => p[0] - q[0]);
          return order.slice(0, Math.max(1, Math.floor(dim / 2))).map(([, i]) => i);
        });
        const selectionShape = shape.map((d, a) => select[a]?.length ?? d);
        const atTarget = r[shape.length]! < 0.3;
        const valuesShape = atTarget
          ? shape
          : selectionShape.map((d, a) => (r[shape.length + a]! < 0.5 ? 1 : d));
        const hasValues = op === 'add' || op === 'set';
        await expectMatches(
          shape,
          {
            op,
            select,
            ...(op === 'scale' ? { by: 1.25 } : {}),
            ...(hasValues
              ? {
                  values: randomFloats(sizeOf(valuesShape), seed + 1),
                  valuesShape,
                  valuesAt: atTarget ? 'target' : 'selection',
                }
              : {}),
          },
          seed,
        );
      }
    }
  });

  it('refuses bad selections and values with messages that say what to do', () => {
    const t = device.zeros([4, 3]);
    const row = device.zeros([3]);
    expect(() => editSelection(t, { op: 'zero', select: [null, [3]] })).toThrow(
      /index 3 .*axis 1 .*size 3/,
    );
    expect(() => editSelection(t, { op: 'zero', select: [[-1]] })).toThrow(/out of range/);
    expect(() => editSelection(t, { op: 'zero', select: [[0.5]] })).toThrow(ShapeError);
    expect(() => editSelection(t, { op: 'zero', select: [[1, 2, 1]] })).toThrow(/appears twice/);
    expect(() => editSelection(t, { op: 'zero', select: [null, null, [0]] })).toThrow(
      /3 entries .* 2 axes/,
    );
    expect(() =>
      editSelection(t, { op: 'set', select: [[0, 1]], values: device.zeros([3, 3]) }),
    ).toThrow(/broadcast .*\[2, 3\]/);
    expect(() =>
      editSelection(t, { op: 'set', values: row, valuesAt: 'target', select: [[0]] }),
    ).toThrow(/target's shape \[4, 3\]/);
    expect(() => editSelection(t, { op: 'zero', values: row })).toThrow(/takes no values/);
    expect(() => editSelection(t, { op: 'scale', by: 2, values: row })).toThrow(/takes no values/);
    expect(() => editSelection(t, { op: 'add' })).toThrow(/needs values/);
    expect(() => editSelection(t, { op: 'scale' })).toThrow(/needs the factor/);
    expect(() => editSelection(t, { op: 'zero', by: 2 })).toThrow(/'scale' only/);
    expect(() =>
      editSelection(t, { op: 'set', values: device.zeros([3], 'u32') as never }),
    ).toThrow(/values must be f32/);
    expect(() => editSelection(device.zeros([1, 2, 1, 2, 1]), { op: 'zero' })).toThrow(
      /1 to 4 dims/,
    );
    expect(() => editSelection(t, { op: 'negate' as never })).toThrow(/op must be one of/);
  });

  it('returns an empty tensor for an empty target', async () => {
    const y = editSelection(device.zeros([0, 3]), { op: 'scale', by: 2 });
    expect(y.shape).toEqual([0, 3]);
    expect((await y.read()).length).toBe(0);
  });
});
