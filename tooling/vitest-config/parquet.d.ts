/**
 * A Parquet file of `rows` with the column types the Hub's Parquet conversion gives a dataset's
 * features, read off the first row: a string is UTF8, a number INT64, an array a list of strings,
 * and an object of arrays (ai2_arc's `choices`) a struct of string lists.
 */
export function parquetOf(rows: readonly object[], options?: { rowGroupSize?: number }): Uint8Array;
