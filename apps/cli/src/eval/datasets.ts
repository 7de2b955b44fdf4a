import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import {
  type CheckpointStore,
  type DatasetRow,
  PARQUET_REVISION,
  readDatasetRows,
  readJsonlRows,
  readParquetRows,
} from '@pythiajs/checkpoint-hub';
import { TASK_TABLE, type TaskName } from '@pythiajs/evals';
import { UsageError } from '../errors.js';

/** Where a task's documents came from, as a results file records it (and resume compares it). */
export type DatasetSource =
  | { hub: string; config: string; split: string; commit: string }
  | { file: string; sha256: string };

/** A task's rows, in the dataset's order, and where they came from. */
export interface TaskRows {
  rows: DatasetRow[];
  source: DatasetSource;
}

/** What a column of a task's rows must hold. */
type Kind = 'string' | 'integer' | 'strings' | 'choices';

/**
 * The columns each task reads, in the Hub dataset's schema (`TASK_TABLE[task].hub`). A `--file`
 * must have them too; other columns are ignored.
 */
export const TASK_COLUMNS: { readonly [task in TaskName]: Readonly<Record<string, Kind>> } = {
  lambada_openai: { text: 'string' },
  piqa: { goal: 'string', sol1: 'string', sol2: 'string', label: 'integer' },
  arc_easy: { question: 'string', choices: 'choices', answerKey: 'string' },
  arc_challenge: { question: 'string', choices: 'choices', answerKey: 'string' },
  sciq: {
    question: 'string',
    distractor1: 'string',
    distractor2: 'string',
    distractor3: 'string',
    correct_answer: 'string',
    support: 'string',
  },
  logiqa: { label: 'string', context: 'string', question: 'string', options: 'strings' },
  winogrande: { sentence: 'string', option1: 'string', option2: 'string', answer: 'string' },
  wsc: {
    text: 'string',
    span1_index: 'integer',
    span2_index: 'integer',
    span1_text: 'string',
    span2_text: 'string',
    label: 'integer',
  },
};

const KIND_NAMES: Record<Kind, string> = {
  string: 'a string',
  integer: 'an integer',
  strings: 'a list of strings',
  choices: 'an object {text: [...], label: [...]} of string lists',
};

function isStrings(value: unknown): boolean {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function fits(kind: Kind, value: unknown): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'strings':
      return isStrings(value);
    case 'choices': {
      const v = value as { text?: unknown; label?: unknown } | null;
      return typeof v === 'object' && v !== null && isStrings(v.text) && isStrings(v.label);
    }
  }
}

/**
 * Checks that every row has the columns its task reads, of the right kind; the message names the
 * row (from 1), the column and the columns the task needs.
 */
export function checkTaskRows(
  task: TaskName,
  rows: readonly DatasetRow[],
  where: string,
  fail: (message: string) => Error,
): void {
  const columns = TASK_COLUMNS[task];
  const needs = `${task} rows have ${Object.keys(columns).join(', ')}`;
  for (const [i, row] of rows.entries()) {
    for (const [column, kind] of Object.entries(columns)) {
      if (!(column in row))
        throw fail(`${where}: row ${i + 1} has no "${column}" column (${needs})`);
      if (!fits(kind, row[column]))
        throw fail(
          `${where}: row ${i + 1}'s "${column}" is not ${KIND_NAMES[kind]} (${needs}; got ${JSON.stringify(row[column])?.slice(0, 60)})`,
        );
    }
  }
}

/** A dataset on the Hub that does not have its task's schema: the dataset is at fault (exit 1). */
export class DatasetSchemaError extends Error {
  override name = 'DatasetSchemaError';
}

/**
 * A task's rows from its Hub dataset (`TASK_TABLE[task].hub`), through `store`: the split's
 * Parquet conversion, downloaded into the cache and checked once, served from it offline.
 */
export async function hubTaskRows(
  task: TaskName,
  store: Pick<CheckpointStore, 'resolve' | 'files' | 'offline' | 'open'>,
): Promise<TaskRows> {
  const { repo, config, split } = TASK_TABLE[task].hub;
  const rows = await readDatasetRows(store, repo, config, split);
  const commit = await store.resolve(repo, PARQUET_REVISION, { repoType: 'dataset' });
  checkTaskRows(
    task,
    rows,
    `dataset ${repo} (${config}, ${split})`,
    (m) => new DatasetSchemaError(m),
  );
  return { rows, source: { hub: repo, config, split, commit } };
}

/**
 * A task's rows from a local file in its Hub dataset's schema: `.jsonl` (one object per line),
 * `.json` (an array of objects, or one object per line as `datasets`' `to_json` writes) or
 * `.parquet`. The source is the file's absolute path and the sha256 of its bytes.
 */
export async function fileTaskRows(task: TaskName, file: string): Promise<TaskRows> {
  const bytes = await readFile(file).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read --file ${file}: ${error.code ?? error.message}`);
  });
  const kind = extname(file).toLowerCase();
  let rows: DatasetRow[];
  try {
    if (kind === '.parquet') {
      rows = await readParquetRows(new Uint8Array(bytes), { name: file });
    } else if (kind === '.jsonl' || kind === '.json') {
      const text = bytes.toString('utf8');
      const array = kind === '.json' ? jsonArray(text) : undefined;
      rows = array ?? readJsonlRows(text, { name: file });
    } else {
      throw new UsageError(
        `--file ${file}: give a .jsonl, .json or .parquet file (rows in the schema of ${TASK_TABLE[task].hub.repo})`,
      );
    }
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--file ${file}: ${(error as Error).message.split('\n')[0]}`);
  }
  checkTaskRows(task, rows, `--file ${file}`, (m) => new UsageError(m));
  return {
    rows,
    source: { file: resolve(file), sha256: createHash('sha256').update(bytes).digest('hex') },
  };
}

/** The rows of a `.json` file holding one array of objects; undefined when it is not that. */
function jsonArray(text: string): DatasetRow[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  for (const [i, row] of value.entries()) {
    if (row === null || typeof row !== 'object' || Array.isArray(row))
      throw new UsageError(`element ${i + 1} of the array is not an object`);
  }
  return value as DatasetRow[];
}

/** The same source: what resume compares (the file's content, not where it lies). */
export function sameSource(a: DatasetSource, b: DatasetSource): boolean {
  if ('file' in a || 'file' in b) return 'file' in a && 'file' in b && a.sha256 === b.sha256;
  return a.hub === b.hub && a.config === b.config && a.split === b.split && a.commit === b.commit;
}

/** A source for a person: `ybisk/piqa (plain_text, validation)` or the file. */
export function describeSource(source: DatasetSource): string {
  return 'file' in source
    ? `--file ${source.file}`
    : `${source.hub} (${source.config}, ${source.split}, ${source.commit.slice(0, 8)})`;
}
