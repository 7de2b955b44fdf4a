// What a hook function gets: one activation of one forward step, on the GPU, with the edits
// TransformerLens' hooks are written with (zero, scale, add, set) on a selection by batch row,
// position, head or key. Selections name absolute positions, so one hook serves a whole prompt
// and every decoding step after it (where each step holds one new position).
import { editSelection, type Tensor, type TensorEdit } from '@pythiajs/tensor-core';
import { ForwardError } from './errors.js';
import { type HookStep, hookAxes } from './hooks.js';

/** An activation read back to the CPU. */
export interface Activation {
  /** Row-major values. */
  data: Float32Array;
  /** E.g. `[tokens, hidden]`; `[heads, dest, src]` for `attn.hook_pattern`. */
  shape: number[];
}

/** One index or several (any order; each at most once). */
type Indices = number | readonly number[];

/**
 * The part of an activation an edit touches; an axis not named is taken whole.
 * - `batch`: sequences of a batch (index into the batch given to the run);
 * - `pos`: absolute positions in the sequence (for `hook_pattern`/`hook_attn_scores`: `dest`);
 *   a position this step does not hold (e.g. position 2 while decoding position 9) selects
 *   nothing, so an edit of position 2 applies at the prompt's step and is kept by the cache;
 * - `head`: attention heads (activations with a head axis);
 * - `dest`, `src`: query and key positions of `hook_pattern` and `hook_attn_scores`.
 */
export interface Selection {
  /**
   * Rows of this step's packed activation (of `dest` for patterns), instead of `batch` and
   * `pos`: for edits that pick a different position in each sequence of a batch.
   */
  rows?: Indices;
  batch?: Indices;
  pos?: Indices;
  head?: Indices;
  dest?: Indices;
  src?: Indices;
}

/**
 * Values for `add` and `set`, one of:
 * - as many values as the selection has elements (row-major in its axes: batch·pos or dest,
 *   head, src, then the remaining axes), e.g. 64 values for `{ pos: 2 }` of `[pos, 64]`;
 * - one row (the last axis) for every selected position, head …: a steering vector;
 * - the whole activation of this step (`shape` values, or a GPU tensor of its shape), of which
 *   the selected elements are taken;
 * - an entry of another run's cache: an {@link Activation} from `runWithCache`, or a GPU tensor
 *   from `runWithDeviceCache` (no upload). Its row for each selected position is taken by
 *   absolute position, so one entry patches a prompt's step, a decoding step, or every
 *   sequence of a batch alike: patching.
 */
export type HookValues = ArrayLike<number> | Activation | Tensor<'f32'>;

function isTensor(v: HookValues): v is Tensor<'f32'> {
  return typeof (v as Tensor).device === 'object' && Array.isArray((v as Tensor).shape);
}

function isActivation(v: HookValues): v is Activation {
  return (v as Activation).data instanceof Float32Array && Array.isArray((v as Activation).shape);
}

function list(indices: Indices | undefined): readonly number[] | undefined {
  if (indices === undefined) return undefined;
  return typeof indices === 'number' ? [indices] : indices;
}

/**
 * A selection resolved against this step: for each axis of the activation, the indices edited
 * (`target`) and, where the values the caller gave are laid out along that axis, the index of
 * each in them (`source`; it differs from 0, 1, … when some requested positions are not in this
 * step).
 */
interface Resolved {
  target: Array<number[] | null>;
  source: Array<number[] | null>;
  /** The requested extent of each axis of compact values. */
  requested: number[];
}

/**
 * An activation a hook may change, on the GPU. Each edit makes a new tensor; the pass goes on
 * with the last one. The activation of a batch is packed: every sequence's rows one after
 * another, `step.counts[i]` rows of sequence i from its position `step.starts[i]` on.
 */
export class HookedActivation {
  #current: Tensor<'f32'>;
  readonly #original: Tensor<'f32'>;

  constructor(
    /** The hook point. */
    readonly name: string,
    tensor: Tensor<'f32'>,
    /** Where this step's rows sit (sequences, positions). */
    readonly step: HookStep,
  ) {
    this.#original = tensor;
    this.#current = tensor;
  }

  /** The activation as computed (before this hook's edits). */
  get tensor(): Tensor<'f32'> {
    return this.#original;
  }

  get shape(): readonly number[] {
    return this.#original.shape;
  }

  /** The axes, e.g. `['pos', 'head', 'd_head']` (see `hookAxes`). */
  get axes(): readonly string[] {
    return hookAxes(this.name);
  }

  /** The absolute position of each row (of `dest` for patterns) of this step, in row order. */
  positions(): number[] {
    const out: number[] = [];
    this.step.counts.forEach((count, i) => {
      for (let t = 0; t < count; t++) out.push(this.step.starts[i]! + t);
    });
    return out;
  }

  /** Zero ablation of the selection (everything by default). */
  zero(select: Selection = {}): void {
    if (this.name.endsWith('attn.hook_attn_scores')) {
      throw new ForwardError(
        `${this.name}: zeroing the scores would unmask later positions (their score is −∞); ` +
          'set 0 where src ≤ dest and −Infinity above, or edit attn.hook_pattern',
      );
    }
    this.#apply({ op: 'zero' }, select);
  }

  /** Multiplies the selection by `by` (e.g. 0.5, or 2 to double a head's values). */
  scale(by: number, select: Selection = {}): void {
    if (!Number.isFinite(by)) throw new ForwardError(`${this.name}: scale by a finite number`);
    this.#apply({ op: 'scale', by }, select);
  }

  /** Adds `values` to the selection: a steering vector (one row), or any delta (see {@link HookValues}). */
  add(values: HookValues, select: Selection = {}): void {
    this.#apply({ op: 'add' }, select, values);
  }

  /** Replaces the selection: patching from another run's cache, mean ablation (see {@link HookValues}). */
  set(values: HookValues, select: Selection = {}): void {
    this.#apply({ op: 'set' }, select, values);
  }

  /**
   * Reads back the activation as edited so far (or a selection of it, flattened row-major in
   * the selection's axes). Opt-in: the run waits for nothing unless this is called; the promise
   * resolves once the step's kernels ran.
   */
  read(select: Selection = {}): Promise<Activation> {
    const resolved = this.#resolve(select);
    const shape = this.shape.map((d, i) => resolved.target[i]?.length ?? d);
    const pending = this.#current.read();
    return pending.then((data) => ({ data: gather(data, this.shape, resolved.target), shape }));
  }

  /** @internal The activation the rest of the pass uses. */
  result(): Tensor<'f32'> {
    return this.#current;
  }

  #apply(edit: Pick<TensorEdit, 'op' | 'by'>, select: Selection, values?: HookValues): void {
    if ((edit.op === 'add' || edit.op === 'set') && values === undefined) {
      throw new ForwardError(`${this.name}: ${edit.op} needs values`);
    }
    const resolved = this.#resolve(select);
    const placed = values === undefined ? undefined : this.#placeValues(values, resolved);
    // Nothing of the selection is in this step (a prompt position while decoding): the values
    // were checked above, and there is nothing to upload or copy.
    if (resolved.target.some((list) => list?.length === 0)) return;
    const device = this.#original.device;
    let upload: Tensor<'f32'> | undefined;
    let full: TensorEdit = { ...edit, select: resolved.target };
    if (placed) {
      if (placed.valuesIndex) {
        const valuesIndex = placed.valuesIndex;
        full = { ...full, values: placed.tensor!, select: placed.select!, valuesIndex };
      } else if (placed.tensor) {
        full = { ...full, values: placed.tensor, valuesAt: placed.valuesAt };
      } else {
        upload = device.tensor(placed.data!, placed.shape!);
        full = { ...full, values: upload, valuesAt: placed.valuesAt };
      }
      if (placed.data) this.#checkMasked(edit.op, placed.data, placed.shape!, resolved);
    }
    const next = editSelection(this.#current, full);
    upload?.dispose();
    if (this.#current !== this.#original) this.#current.dispose();
    this.#current = next;
  }

  /** Each axis' edited indices, from a selection and this step's rows. */
  #resolve(select: Selection): Resolved {
    const axes = this.axes;
    const known = new Set([
      'rows',
      'batch',
      ...axes.filter((a) => ['pos', 'head', 'dest', 'src'].includes(a)),
    ]);
    if (axes.includes('dest')) known.add('pos');
    for (const key of Object.keys(select)) {
      if (!known.has(key)) {
        throw new ForwardError(
          `${this.name} has axes [${axes.join(', ')}]; select by ${[...known].join(', ')}, not ${key}`,
        );
      }
    }
    const rowAxis = axes.includes('pos') ? 'pos' : 'dest';
    const rowIndex = axes.indexOf(rowAxis);
    const requestedRows = list(select.pos ?? select.dest);
    if (select.pos !== undefined && select.dest !== undefined) {
      throw new ForwardError(`${this.name}: give pos or dest, not both`);
    }
    const batch = list(select.batch);
    const sequences = this.step.counts.length;
    for (const b of batch ?? []) {
      if (!Number.isInteger(b) || b < 0 || b >= sequences) {
        throw new ForwardError(
          `${this.name}: batch ${b} is out of range; this run has ${sequences} sequence(s)`,
        );
      }
    }
    const target: Array<number[] | null> = axes.map(() => null);
    const source: Array<number[] | null> = axes.map(() => null);
    const requested = [...this.shape];
    const packedRows = list(select.rows);
    if (packedRows !== undefined) {
      if (batch !== undefined || requestedRows !== undefined) {
        throw new ForwardError(`${this.name}: select rows, or batch and ${rowAxis}, not both`);
      }
      const total = this.shape[rowIndex]!;
      for (const r of packedRows) {
        if (!Number.isInteger(r) || r < 0 || r >= total) {
          throw new ForwardError(
            `${this.name}: row ${r} is out of range; this step has ${total} rows`,
          );
        }
      }
      target[rowIndex] = [...packedRows];
      source[rowIndex] = packedRows.map((_, k) => k);
      requested[rowIndex] = packedRows.length;
    } else if (batch !== undefined || requestedRows !== undefined) {
      const rows: number[] = [];
      const from: number[] = [];
      const rowStarts: number[] = [];
      let at = 0;
      for (const c of this.step.counts) {
        rowStarts.push(at);
        at += c;
      }
      const chosen = batch ?? Array.from({ length: sequences }, (_, i) => i);
      let k = 0;
      for (const b of chosen) {
        const start = this.step.starts[b]!;
        const count = this.step.counts[b]!;
        const positions = requestedRows ?? Array.from({ length: count }, (_, t) => start + t);
        for (const p of positions) {
          if (!Number.isInteger(p) || p < 0) {
            throw new ForwardError(`${this.name}: ${rowAxis} ${p} is not a position`);
          }
          if (p >= start && p < start + count) {
            rows.push(rowStarts[b]! + p - start);
            from.push(k);
          }
          k++;
        }
      }
      target[rowIndex] = rows;
      source[rowIndex] = from;
      requested[rowIndex] = k;
    }
    const axisList = (axis: string, indices: Indices | undefined) => {
      const i = axes.indexOf(axis);
      const wanted = list(indices);
      if (i < 0 || wanted === undefined) return;
      const size = this.shape[i]!;
      const kept: number[] = [];
      const from: number[] = [];
      wanted.forEach((index, k) => {
        if (!Number.isInteger(index) || index < 0) {
          throw new ForwardError(`${this.name}: ${axis} ${index} is not an index`);
        }
        if (axis === 'head' && index >= size) {
          throw new ForwardError(`${this.name}: head ${index} is out of range; there are ${size}`);
        }
        // A key beyond this step's longest context is a later position: nothing to edit yet.
        if (index < size) {
          kept.push(index);
          from.push(k);
        }
      });
      target[i] = kept;
      source[i] = from;
      requested[i] = wanted.length;
    };
    axisList('head', select.head);
    axisList('src', select.src);
    return { target, source, requested };
  }

  /**
   * Lines `values` up with the resolved selection: a GPU tensor of this step's shape as it is,
   * one of another shape read by position; CPU values gathered into the selection's present
   * elements (or one row, broadcast).
   */
  #placeValues(
    values: HookValues,
    resolved: Resolved,
  ): {
    tensor?: Tensor<'f32'>;
    data?: Float32Array;
    shape?: number[];
    valuesAt: 'selection' | 'target';
    /** With a GPU cache entry: the selection spelled out per axis, and where each reads. */
    select?: Array<number[] | null>;
    valuesIndex?: Array<number[] | null>;
  } {
    const fullSize = this.#original.size;
    const selectionShape = this.shape.map((d, i) => resolved.target[i]?.length ?? d);
    const compactSize = resolved.requested.reduce((a, b) => a * b, 1);
    const row = this.shape.at(-1)!;
    if (isTensor(values)) {
      if (sameShape(values.shape, this.shape)) return { tensor: values, valuesAt: 'target' };
      // A cache entry of a run on the sequence, on the GPU: read by absolute position.
      const { lists } = this.#positionLists(values.shape, resolved);
      return { tensor: values, valuesAt: 'selection', select: lists, valuesIndex: lists.mapped };
    }
    if (isActivation(values)) {
      return {
        data: this.#byPosition(values, resolved),
        shape: selectionShape,
        valuesAt: 'selection',
      };
    }
    const data = Float32Array.from(values);
    if (data.length === compactSize) {
      return {
        data: pick(data, resolved.requested, resolved.source),
        shape: selectionShape,
        valuesAt: 'selection',
      };
    }
    if (data.length === row && resolved.target.at(-1) === null) {
      return { data, shape: [row], valuesAt: 'selection' };
    }
    if (data.length === fullSize) {
      return {
        data: gather(data, this.shape, resolved.target),
        shape: selectionShape,
        valuesAt: 'selection',
      };
    }
    throw new ForwardError(
      `${this.name} has shape [${this.shape.join(', ')}] here: give ${compactSize} values (the selection` +
        `${compactSize === fullSize ? '' : `, [${resolved.requested.join(', ')}]`}), ${row} (one row for every selected position), ` +
        `or ${fullSize} (the whole activation); got ${data.length}`,
    );
  }

  /**
   * The selected elements of `cached`, an activation of a run on the same sequence (a cache
   * entry): its rows are that run's positions 0, 1, …, so each selected row of this step takes
   * the row of its absolute position (the same for every sequence of a batch), and every other
   * axis (heads, keys of a pattern, features) the same index.
   */
  #byPosition(cached: Activation, resolved: Resolved): Float32Array {
    const { lists } = this.#positionLists(cached.shape, resolved);
    return gather(cached.data, cached.shape, lists.mapped);
  }

  /**
   * For values shaped as a cache entry of a run on the sequence (`shape`): the selection spelled
   * out per axis (rows and keys listed, other axes whole: null), and per axis the index each
   * selected element reads in the cache entry (a row's absolute position; the same index
   * elsewhere). Throws unless the entry holds every position needed.
   */
  #positionLists(
    shape: readonly number[],
    resolved: Resolved,
  ): { lists: Array<number[] | null> & { mapped: number[][] } } {
    const axes = this.axes;
    const rowAxis = axes.includes('pos') ? axes.indexOf('pos') : axes.indexOf('dest');
    const positions = this.positions();
    const all = this.shape.map((d, i) => resolved.target[i] ?? range(d));
    const mapped = all.map((l, i) => (i === rowAxis ? l.map((r) => positions[r]!) : l));
    const fits =
      shape.length === this.shape.length &&
      shape.every((d, i) => {
        if (i === rowAxis || axes[i] === 'src') return mapped[i]!.every((k) => k < d);
        return d === this.shape[i];
      });
    if (!fits) {
      const rows = mapped[rowAxis]!;
      throw new ForwardError(
        `${this.name}: the cached activation [${shape.join(', ')}] does not hold the selected ` +
          `positions of this step [${this.shape.join(', ')}]` +
          (rows.length > 0 ? ` (positions ${Math.min(...rows)}…${Math.max(...rows)})` : '') +
          '; cache a run of the same sequence, at least as long',
      );
    }
    const lists = Object.assign(
      all.map((l, i) => (i === rowAxis || axes[i] === 'src' || resolved.target[i] ? l : null)),
      { mapped },
    );
    return { lists };
  }

  /**
   * A pattern or score edit that would put weight on a later position (src > dest) cannot be
   * honoured (the key is not attended to, or not computed yet while decoding): refuse it rather
   * than give logits that ignore it.
   */
  #checkMasked(
    op: TensorEdit['op'],
    data: Float32Array,
    shape: readonly number[],
    resolved: Resolved,
  ): void {
    const pattern = this.name.endsWith('attn.hook_pattern');
    if (!pattern && !this.name.endsWith('attn.hook_attn_scores')) return;
    // Scores: −∞ there is the mask itself; adding to −∞ changes nothing.
    if (!pattern && op === 'add') return;
    const allowed = pattern || op === 'add' ? 0 : Number.NEGATIVE_INFINITY;
    const positions = this.positions();
    const [heads, dests, srcs] = this.shape as [number, number, number];
    const hs = resolved.target[0] ?? range(heads);
    const ds = resolved.target[1] ?? range(dests);
    const ss = resolved.target[2] ?? range(srcs);
    const broadcastRow = shape.length === 1;
    for (let hi = 0; hi < hs.length; hi++) {
      for (let di = 0; di < ds.length; di++) {
        const dest = positions[ds[di]!]!;
        for (let si = 0; si < ss.length; si++) {
          if (ss[si]! <= dest) continue;
          const v = broadcastRow ? data[si]! : data[(hi * ds.length + di) * ss.length + si]!;
          if (v !== allowed && !(Number.isNaN(v) && Number.isNaN(allowed))) {
            throw new ForwardError(
              `${this.name}: the value for head ${hs[hi]}, dest ${dest}, src ${ss[si]} is ${v}, but a token ` +
                `cannot attend to a later position; give ${pattern ? '0' : '-Infinity'} where src > dest`,
            );
          }
        }
      }
    }
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Elements of `data` (row-major, `shape`) at the product of per-axis index lists (null: all). */
function gather(
  data: Float32Array,
  shape: readonly number[],
  indices: ReadonlyArray<readonly number[] | null>,
): Float32Array {
  const lists = shape.map((d, i) => indices[i] ?? range(d));
  const out = new Float32Array(lists.reduce((n, l) => n * l.length, 1));
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  let at = 0;
  const walk = (axis: number, offset: number) => {
    if (axis === shape.length) {
      out[at++] = data[offset]!;
      return;
    }
    for (const i of lists[axis]!) walk(axis + 1, offset + i * strides[axis]!);
  };
  walk(0, 0);
  return out;
}

/**
 * Compact values laid out for the requested selection (`requested` extents), narrowed to the
 * entries present in this step (`source` indices per axis; null: all).
 */
function pick(
  data: Float32Array,
  requested: readonly number[],
  source: ReadonlyArray<readonly number[] | null>,
): Float32Array {
  if (source.every((s, i) => s === null || s.length === requested[i])) return data;
  return gather(data, requested, source);
}
