// A weight matrix stored quantized on the GPU: its row chunks (values and f16 scales in one
// buffer each), and the streaming upload that quantizes rows on the CPU as they arrive.
import type { Device } from './device.js';
import { LimitExceededError, ShapeError, TensorDisposedError } from './errors.js';
import {
  QUANT_BLOCK,
  QUANT_BLOCK_WORDS,
  type QuantFormat,
  quantizeBlocks,
} from './quant-blocks.js';
import type { Tensor } from './tensor.js';

export type { QuantFormat };

/** One GPU buffer of a {@link QuantizedTensor}: rows `[firstRow, firstRow + rows)`. */
export interface QuantizedChunk {
  readonly firstRow: number;
  readonly rows: number;
  /**
   * The rows' packed values, then their f16 scales two per word (layout in the README and
   * `quantWeightWgsl`), as a u32 tensor.
   */
  readonly tensor: Tensor<'u32'>;
}

// Keeps a chunk's element indices (2 per byte for q4) within u32 arithmetic in the kernels.
const MAX_CHUNK_BYTES = 2 ** 30;

/**
 * A [N, K] weight matrix stored quantized on the GPU (values + per-block f16 scales), possibly in
 * row chunks when it exceeds the device's binding limit. `matmul` takes it as its weight and
 * `dequantize` turns it back into f32. Make one with {@link QuantizedTensor.create} (then
 * {@link QuantizedTensor.writeRows}) or {@link quantize}.
 *
 * Formats (blocks of 32 weights along K, one f16 scale d per block): `q8`, int8 q, w = q·d
 * (d = max|w|/127, llama.cpp's Q8_0), 8.5 bits per weight; `q4`, 4-bit q, w = (q − 8)·d
 * (d = −(the weight of largest magnitude)/8, llama.cpp's Q4_0), 4.5 bits per weight.
 *
 * @example
 * ```ts
 * const w = QuantizedTensor.create(device, [4 * hidden, hidden], 'q4');
 * for (let row = 0; row < 4 * hidden; row += 256) {
 *   await w.writeRows(row, await readRows(row, 256)); // f32, or f16 bits as a Uint16Array
 * }
 * const h = matmul(x, w, bias, { activation: 'gelu' });
 * ```
 */
export class QuantizedTensor {
  readonly device: Device;
  readonly format: QuantFormat;
  readonly shape: readonly [number, number];
  /** Bytes on the GPU (values + scales, each chunk padded to 16 bytes). */
  readonly byteLength: number;
  readonly #chunks: readonly QuantizedChunk[];
  // Odd K/32 only: f16 scales (by block index) at the edges of rows written so far whose u32 word
  // is shared with the next or previous row, so that writing that row keeps them.
  readonly #edgeScales = new Map<number, number>();
  #disposed = false;

  private constructor(
    device: Device,
    shape: readonly [number, number],
    format: QuantFormat,
    chunks: readonly QuantizedChunk[],
  ) {
    this.device = device;
    this.shape = Object.freeze([shape[0], shape[1]] as const);
    this.format = format;
    this.#chunks = chunks;
    this.byteLength = chunks.reduce((sum, c) => sum + c.tensor.byteLength, 0);
  }

  /** Bytes per weight for a format incl. scales: q8 → 34/32, q4 → 18/32. */
  static bytesPerWeight(format: QuantFormat): number {
    return (QUANT_BLOCK_WORDS[format] * 4 + 2) / QUANT_BLOCK;
  }

  /**
   * Allocates a zero matrix (every weight 0 until written); fill it with
   * {@link QuantizedTensor.writeRows}.
   *
   * @throws {ShapeError} the shape is not [N, K] with K a positive multiple of 32.
   * @throws {LimitExceededError} one row (two for an odd K/32) is over the binding limit.
   */
  static create(
    device: Device,
    shape: readonly [number, number],
    format: QuantFormat,
  ): QuantizedTensor {
    device.assertAlive();
    const [n, k] = shape;
    if (format !== 'q8' && format !== 'q4') {
      throw new ShapeError(`quantized format must be 'q8' or 'q4', got '${String(format)}'`);
    }
    if (
      shape.length !== 2 ||
      !Number.isSafeInteger(n) ||
      !Number.isSafeInteger(k) ||
      n < 1 ||
      k < QUANT_BLOCK ||
      k % QUANT_BLOCK !== 0
    ) {
      throw new ShapeError(
        `a quantized matrix must be [N, K] with N ≥ 1 and K a positive multiple of ${QUANT_BLOCK} ` +
          `(blocks of ${QUANT_BLOCK} weights along K), got [${shape.join(', ')}]; keep other ` +
          'matrices in f16 or f32',
      );
    }
    const limit = Math.min(
      device.limits.maxStorageBufferBindingSize,
      device.limits.maxBufferSize,
      MAX_CHUNK_BYTES,
    );
    const blocks = k / QUANT_BLOCK;
    // Values, then scales, padded to 16 bytes: the GEMV reads the buffer as vec4<u32>.
    const words = (rows: number) =>
      Math.ceil((rows * blocks * QUANT_BLOCK_WORDS[format] + Math.ceil((rows * blocks) / 2)) / 4) *
      4;
    let perChunk = n;
    if (words(n) * 4 > limit) {
      perChunk = Math.floor(limit / (4 * (words(2) / 2)));
      while (perChunk > 0 && words(perChunk) * 4 > limit) perChunk--;
      // A chunk must start at an even block, so that its scales start at a whole word.
      if (blocks % 2 === 1) perChunk &= ~1;
      if (perChunk < 1) {
        throw new LimitExceededError(
          'maxStorageBufferBindingSize',
          words(blocks % 2 === 1 ? 2 : 1) * 4,
          limit,
          `a quantized matrix is split by rows, and ${blocks % 2 === 1 ? 'two rows' : 'one row'} of [${n}, ${k}] ${format} must fit`,
        );
      }
    }
    const chunks: QuantizedChunk[] = [];
    for (let firstRow = 0; firstRow < n; firstRow += perChunk) {
      const rows = Math.min(perChunk, n - firstRow);
      chunks.push({ firstRow, rows, tensor: device.zeros([words(rows)], 'u32') });
    }
    return new QuantizedTensor(device, [n, k], format, chunks);
  }

  /** The GPU buffers, in row order (one unless the matrix exceeds the binding limit). */
  get chunks(): readonly QuantizedChunk[] {
    if (this.#disposed) throw new TensorDisposedError(this.toString());
    return this.#chunks;
  }

  /** True once disposed. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Quantizes rows `[firstRow, firstRow + rows)` on the CPU from f32 values or f16 bit patterns
   * (Uint16Array), `rows = data.length / K`, and uploads them after all earlier work on the
   * device, so that a loader can stream a huge matrix a few MB at a time with bounded host
   * memory. `data` is not kept: it may be reused as soon as this returns. The promise resolves
   * when the upload is queued (await it to pace a stream; kernels recorded later see the rows
   * either way), with the rows as quantized, for a caller that keeps them (a cache of the
   * quantized model: `writeQuantizedRows` uploads them again without quantizing).
   * The same as `writeQuantizedRows(firstRow, quantizeRows(data, K, format))`.
   *
   * @throws {ShapeError} `data.length` is not a multiple of K, or the rows overrun the matrix.
   * @throws {TensorDisposedError} the matrix was disposed.
   */
  writeRows(firstRow: number, data: Float32Array | Uint16Array): Promise<QuantizedRows> {
    const [, k] = this.shape;
    if (!(data instanceof Float32Array || data instanceof Uint16Array)) {
      throw new ShapeError(
        'writeRows takes a Float32Array (f32) or a Uint16Array (f16 bit patterns)',
      );
    }
    if (!Number.isInteger(data.length / k)) {
      throw new ShapeError(
        `writeRows: ${data.length} values are not whole rows of K = ${k} for ${this.toString()}`,
      );
    }
    this.#checkRows(firstRow, data.length / k);
    const rows = quantizeRows(data, k, this.format);
    return this.writeQuantizedRows(firstRow, rows).then(() => rows);
  }

  /**
   * Uploads rows `[firstRow, firstRow + rows)` already quantized in this matrix's format (by
   * {@link quantizeRows}, or kept from an earlier load): a loader that caches a quantized model
   * skips the quantization the second time. Same pacing and lifetime of `rows` as `writeRows`.
   *
   * @throws {ShapeError} the values and scales are not the same whole number of rows, or the rows
   *   overrun the matrix.
   * @throws {TensorDisposedError} the matrix was disposed.
   */
  writeQuantizedRows(firstRow: number, rows: QuantizedRows): Promise<void> {
    const chunks = this.chunks;
    const [, k] = this.shape;
    const blocks = k / QUANT_BLOCK;
    const blockWords = QUANT_BLOCK_WORDS[this.format];
    const count = rows.scales.length / blocks;
    if (!Number.isInteger(count) || rows.values.length !== count * blocks * blockWords) {
      throw new ShapeError(
        `writeQuantizedRows: ${rows.values.length} value words and ${rows.scales.length} scales are not the same whole rows of ${this.toString()} (${blocks * blockWords} words and ${blocks} scales a row)`,
      );
    }
    this.#checkRows(firstRow, count);
    const writes: Promise<void>[] = [];
    for (const chunk of chunks) {
      const from = Math.max(firstRow, chunk.firstRow);
      const to = Math.min(firstRow + count, chunk.firstRow + chunk.rows);
      if (from >= to) continue;
      // Scales from an even block: a leading half (the row before's last scale) when `from`
      // starts at an odd block, and a trailing one (the next row's first) when `to` ends at one.
      const s0 = (from - chunk.firstRow) * blocks;
      const s1 = (to - chunk.firstRow) * blocks;
      const lead = s0 & 1;
      const scales = new Uint16Array(2 * Math.ceil((lead + s1 - s0) / 2));
      const mine = rows.scales.subarray((from - firstRow) * blocks, (to - firstRow) * blocks);
      scales.set(mine, lead);
      if (blocks % 2 === 1) {
        const first = from * blocks; // block indices of the whole matrix
        const end = to * blocks;
        if (lead) {
          scales[0] = this.#edgeScale(first - 1, first, mine[0]!);
        }
        if (s1 & 1) {
          scales[scales.length - 1] = this.#edgeScale(end, end - 1, mine[mine.length - 1]!);
        }
      }
      const valueWords = chunk.rows * blocks * blockWords;
      const tensor = chunk.tensor;
      writes.push(
        tensor.write(
          (from - chunk.firstRow) * blocks * blockWords,
          rows.values.subarray(
            (from - firstRow) * blocks * blockWords,
            (to - firstRow) * blocks * blockWords,
          ),
        ),
      );
      writes.push(
        tensor.write(
          valueWords + (s0 >> 1),
          new Uint32Array(scales.buffer, scales.byteOffset, scales.length / 2),
        ),
      );
    }
    return Promise.all(writes).then(() => undefined);
  }

  #checkRows(firstRow: number, rows: number): void {
    const [n] = this.shape;
    if (!Number.isSafeInteger(firstRow) || firstRow < 0 || firstRow + rows > n) {
      throw new ShapeError(
        `rows [${firstRow}, ${firstRow + rows}) are outside the ${n} rows of ${this.toString()}`,
      );
    }
  }

  /**
   * The scale of block `neighbour` (0 until its row is written), which shares a word with block
   * `own` being written now; remembers `own`'s scale for when the neighbour's row is written
   * (or rewritten). Two entries per row boundary at most, and only for an odd K/32.
   */
  #edgeScale(neighbour: number, own: number, ownScale: number): number {
    this.#edgeScales.set(own, ownScale);
    return this.#edgeScales.get(neighbour) ?? 0;
  }

  /** Returns the GPU memory to the device's pool (see `Tensor.dispose`). Idempotent. */
  dispose(): void {
    this.#end((tensor) => tensor.dispose());
  }

  /** Frees the GPU memory instead of pooling it (see `Tensor.destroy`). Idempotent. */
  destroy(): void {
    this.#end((tensor) => tensor.destroy());
  }

  #end(free: (tensor: Tensor<'u32'>) => void): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#edgeScales.clear();
    for (const chunk of this.#chunks) free(chunk.tensor);
  }

  toString(): string {
    return `QuantizedTensor<${this.format}>[${this.shape.join(', ')}]`;
  }
}

/** Rows of a matrix quantized on the CPU, as a {@link QuantizedTensor} stores them. */
export interface QuantizedRows {
  /** The packed values, row-major by block: K/4 words a row for q8, K/8 for q4. */
  values: Uint32Array;
  /** One f16 scale (bit pattern) per block of 32, row-major: K/32 a row. */
  scales: Uint16Array;
}

/**
 * Quantizes whole rows of `k` weights (f32 values, or f16 bit patterns in a Uint16Array) on the
 * CPU into `format`'s blocks: what `QuantizedTensor.writeRows` uploads, for a caller that also
 * keeps them (a cache of the quantized model).
 *
 * @example
 * ```ts
 * const rows = quantizeRows(piece, hidden, 'q4');
 * await w.writeQuantizedRows(row, rows);
 * await cacheFile.write(rows); // the next load uploads these without quantizing
 * ```
 */
export function quantizeRows(
  data: Float32Array | Uint16Array,
  k: number,
  format: QuantFormat,
): QuantizedRows {
  const rows = data.length / k;
  if (k % QUANT_BLOCK !== 0 || !Number.isInteger(rows)) {
    throw new ShapeError(
      `quantizeRows: ${data.length} values are not whole rows of K = ${k}, or K is not a multiple of ${QUANT_BLOCK}`,
    );
  }
  const blocks = (rows * k) / QUANT_BLOCK;
  const values = new Uint32Array(blocks * QUANT_BLOCK_WORDS[format]);
  const scales = new Uint16Array(blocks);
  quantizeBlocks(data, rows, k, format, values, scales);
  return { values, scales };
}

/**
 * A [N, K] matrix quantized on the CPU and uploaded: `QuantizedTensor.create` + `writeRows(0, data)`.
 * `data` holds f32 values or f16 bit patterns (Uint16Array), row-major.
 *
 * @example
 * ```ts
 * const w = quantize(device, f32Weights, [n, k], 'q8');
 * const y = matmul(x, w); // f32 [..., n]
 * ```
 */
export function quantize(
  device: Device,
  data: Float32Array | Uint16Array,
  shape: readonly [number, number],
  format: QuantFormat,
): QuantizedTensor {
  const q = QuantizedTensor.create(device, shape, format);
  if (data.length !== shape[0] * shape[1]) {
    q.dispose();
    throw new ShapeError(
      `quantize: ${data.length} values do not fill [${shape.join(', ')}] (${shape[0] * shape[1]} needed)`,
    );
  }
  // Failures (a lost device) surface from the next read or flush, as for device.tensor.
  q.writeRows(0, data).catch(() => {});
  return q;
}
