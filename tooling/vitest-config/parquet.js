import { parquetWriteBuffer } from 'hyparquet-writer';

const STRING = { type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' };

/** The schema elements of an optional list of strings named `name` (Parquet's 3-level LIST). */
function stringList(name) {
  return [
    { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { name: 'element', ...STRING },
  ];
}

/**
 * A Parquet file of `rows` with the column types the Hub's Parquet conversion gives a dataset's
 * features, read off the first row: a string is UTF8, a number INT64, an array a list of strings,
 * and an object of arrays (ai2_arc's `choices`) a struct of string lists.
 *
 * @param {readonly Record<string, unknown>[]} rows
 * @param {{ rowGroupSize?: number }} [options] rows per row group (the writer's default when unset)
 * @returns {Uint8Array}
 */
export function parquetOf(rows, options = {}) {
  const first = rows[0];
  if (!first) throw new RangeError('parquetOf needs at least one row to read the columns from');
  const names = Object.keys(first);
  const schema = [{ name: 'schema', num_children: names.length }];
  const columnData = names.map((name) => {
    const value = first[name];
    if (typeof value === 'number') {
      schema.push({ name, type: 'INT64', repetition_type: 'OPTIONAL' });
      return { name, data: rows.map((r) => BigInt(r[name])) };
    }
    if (Array.isArray(value)) schema.push(...stringList(name));
    else if (typeof value === 'object' && value !== null) {
      const fields = Object.keys(value);
      schema.push({ name, repetition_type: 'OPTIONAL', num_children: fields.length });
      for (const field of fields) schema.push(...stringList(field));
    } else schema.push({ name, ...STRING });
    return { name, data: rows.map((r) => r[name]) };
  });
  return new Uint8Array(
    parquetWriteBuffer({
      columnData,
      schema,
      ...(options.rowGroupSize === undefined ? {} : { rowGroupSize: options.rowGroupSize }),
    }),
  );
}
