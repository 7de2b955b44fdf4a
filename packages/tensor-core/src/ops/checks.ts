import type { DType } from '../dtype.js';
import { ShapeError, TensorCoreError } from '../errors.js';
import type { Tensor } from '../tensor.js';

/** Throws unless `t` has one of `dtypes`; `role` names the argument in the message. */
export function checkDType(op: string, role: string, t: Tensor, ...dtypes: DType[]): void {
  if (!dtypes.includes(t.dtype)) {
    throw new ShapeError(`${op}: ${role} must be ${dtypes.join(' or ')}, got ${t.toString()}`);
  }
}

/** Throws unless `a` and `b` have the same shape. */
export function checkSameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(`${op}: shapes differ, ${a.toString()} vs ${b.toString()}`);
  }
}

/** Throws unless every tensor lives on the first one's device. */
export function checkSameDevice(op: string, ...tensors: Tensor[]): void {
  const device = tensors[0]?.device;
  if (tensors.some((t) => t.device !== device)) {
    throw new TensorCoreError(`${op}: tensors live on different devices; copy them to one device`);
  }
}

/** The last dimension (row length) and the product of the others (row count) of `t`. */
export function rowsAndColumns(op: string, t: Tensor): [rows: number, columns: number] {
  const columns = t.shape[t.shape.length - 1];
  if (columns === undefined) throw new ShapeError(`${op}: ${t.toString()} needs at least 1 dim`);
  return [columns === 0 ? 0 : t.size / columns, columns];
}
