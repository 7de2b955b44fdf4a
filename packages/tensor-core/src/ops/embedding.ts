import { ShapeError } from '../errors.js';
import { workgroupGrid } from '../grid.js';
import { embeddingWgsl } from '../kernels/embedding.js';
import type { Tensor } from '../tensor.js';
import { checkDType, checkSameDevice } from './checks.js';
import { storageTypeOf } from './storage-type.js';

/**
 * Gathers rows of an embedding table: ids u32 or i32 [...], table f32 or f16 [V, C]; returns
 * f32 [..., C]. Ids outside [0, V) give rows of zeros rather than reading out of bounds. A table
 * above the binding limit (stored in row chunks) takes one dispatch per chunk.
 *
 * @example
 * ```ts
 * const ids = device.tensor(new Uint32Array(tokenIds));
 * const hidden = embedding(ids, embedIn); // [tokens, hidden]
 * ```
 */
export function embedding(ids: Tensor<'u32' | 'i32'>, table: Tensor<'f32' | 'f16'>): Tensor<'f32'> {
  checkDType('embedding', 'ids', ids, 'u32', 'i32');
  checkDType('embedding', 'table', table, 'f32', 'f16');
  checkSameDevice('embedding', ids, table);
  const [vocab, cols] = table.shape;
  if (table.shape.length !== 2 || vocab === undefined || cols === undefined) {
    throw new ShapeError(`embedding: table must be [V, C], got ${table.toString()}`);
  }
  const device = ids.device;
  const y = device.empty([...ids.shape, cols], 'f32');
  if (y.size === 0) return y;
  for (const chunk of table.chunks) {
    device.dispatch({
      code: embeddingWgsl(storageTypeOf(table)),
      bindings: [ids, chunk.buffer, y],
      uniforms: new Uint32Array([ids.size, cols, chunk.rows, chunk.firstRow, vocab]),
      workgroups: workgroupGrid(
        Math.ceil(y.size / 256),
        device.limits.maxComputeWorkgroupsPerDimension,
      ),
    });
  }
  return y;
}
