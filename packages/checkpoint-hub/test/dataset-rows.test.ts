import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetOf } from '@pythiajs/vitest-config/parquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  bytesSource,
  HubClient,
  InvalidDatasetFileError,
  NotCachedError,
  PARQUET_REVISION,
  ParquetSplitNotFoundError,
  RemoteStore,
  readDatasetRows,
  readJsonlRows,
  readParquetRows,
  UnsafeDatasetIntegerError,
} from '../src/index.js';
import { NodeHubCache } from '../src/node/index.js';
import { FakeHub } from '../src/testing/index.js';

// Rows in the schemas the Hub's Parquet conversion gives two lm-evaluation-harness datasets
// (ybisk/piqa; allenai/ai2_arc, whose choices are a struct of two string lists).

interface Piqa {
  goal: string;
  sol1: string;
  sol2: string;
  label: number;
}

interface Arc {
  id: string;
  question: string;
  choices: { text: string[]; label: string[] };
  answerKey: string;
}

const piqa = (n: number): Piqa => ({
  goal: `goal ${n}: how do I…?`,
  sol1: `first way ${n}`,
  sol2: `second way ${n}`,
  label: n % 2,
});
const PIQA_0 = [0, 1, 2].map(piqa);
const PIQA_1 = [3, 4].map(piqa);
const ARC_0: Arc[] = [
  {
    id: 'Mercury_7175875',
    question: 'An astronomer observes that a planet rotates faster after a meteorite impact…',
    choices: {
      text: ['Planetary density will decrease.', 'Planetary years will become longer.'],
      label: ['A', 'B'],
    },
    answerKey: 'B',
  },
];
const ARC_1: Arc[] = [
  {
    id: 'NYSEDREGENTS_2015_4_8',
    question: 'Which object is the best conductor?',
    choices: { text: ['wood', 'iron', 'glass'], label: ['1', '2', '3'] },
    answerKey: '2',
  },
];

const PIQA = 'ybisk/piqa';
const ARC = 'allenai/ai2_arc';
const BROKEN = 'owner/broken';
const PIQA_COMMIT = 'a'.repeat(40);
const ARC_COMMIT = 'b'.repeat(40);
const BROKEN_COMMIT = 'c'.repeat(40);
const hub = new FakeHub(
  {},
  {
    datasets: {
      [PIQA]: {
        branches: { [PARQUET_REVISION]: PIQA_COMMIT },
        commits: {
          [PIQA_COMMIT]: {
            // Row groups of 2: a limit inside the first shard reads part of it.
            'plain_text/validation/0000.parquet': parquetOf(PIQA_0, { rowGroupSize: 2 }),
            'plain_text/validation/0001.parquet': parquetOf(PIQA_1),
            'plain_text/train/0000.parquet': parquetOf([piqa(9)]),
          },
        },
      },
      [ARC]: {
        branches: { [PARQUET_REVISION]: ARC_COMMIT },
        commits: {
          [ARC_COMMIT]: {
            'ARC-Easy/test/0000.parquet': parquetOf(ARC_0),
            'ARC-Easy/test/0001.parquet': parquetOf(ARC_1),
          },
        },
      },
      [BROKEN]: {
        branches: { [PARQUET_REVISION]: BROKEN_COMMIT },
        commits: {
          // Served with its own checksum: it passes the download checks and fails as Parquet.
          [BROKEN_COMMIT]: { 'default/test/0000.parquet': parquetOf(PIQA_0).subarray(0, 100) },
        },
      },
    },
  },
);

const client = () => new HubClient({ endpoint: hub.hubOrigin, retries: 0 });
const unreachable = () => new HubClient({ endpoint: 'http://127.0.0.1:9', retries: 0 });
const downloads = () =>
  hub.requests.filter((r) => r.url.includes('/resolve/')).map((r) => r.url.split('/').at(-1));
let dir: string;
beforeAll(() => hub.start());
afterAll(() => hub.stop());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hf-dataset-rows-'));
  hub.requests.length = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('readDatasetRows', () => {
  it("reads a split's shards in order, as plain rows", async () => {
    const cache = new NodeHubCache({ dir, client: client() });
    const rows = await readDatasetRows(cache, PIQA, 'plain_text', 'validation');
    // int64 labels are numbers; shard 0's rows, then shard 1's.
    expect(rows).toEqual([...PIQA_0, ...PIQA_1]);
    expect(typeof rows[0]!.label).toBe('number');
    expect(await readDatasetRows(cache, PIQA, 'plain_text', 'train')).toEqual([piqa(9)]);
  });

  it('reads nested structs of lists (ai2_arc choices), through a RemoteStore too', async () => {
    const cache = new NodeHubCache({ dir, client: client() });
    const rows = await readDatasetRows(cache, ARC, 'ARC-Easy', 'test');
    expect(rows).toEqual([...ARC_0, ...ARC_1]);
    expect(Object.getPrototypeOf(rows[1]!.choices)).toBe(Object.prototype);
    const remote = await readDatasetRows(new RemoteStore(client()), ARC, 'ARC-Easy', 'test');
    expect(remote).toEqual(rows);
  });

  it('stops at limit, without opening the later shards', async () => {
    const cache = new NodeHubCache({ dir, client: client() });
    expect(await readDatasetRows(cache, PIQA, 'plain_text', 'validation', { limit: 2 })).toEqual(
      PIQA_0.slice(0, 2),
    );
    expect(downloads()).toEqual(['0000.parquet']);
    expect(await readDatasetRows(cache, PIQA, 'plain_text', 'validation', { limit: 4 })).toEqual([
      ...PIQA_0,
      PIQA_1[0],
    ]);
    expect(await readDatasetRows(cache, PIQA, 'plain_text', 'validation', { limit: 0 })).toEqual(
      [],
    );
    await expect(
      readDatasetRows(cache, PIQA, 'plain_text', 'validation', { limit: -1 }),
    ).rejects.toThrow(RangeError);
  });

  it('reads a split offline from the cache after a first online read', async () => {
    const online = new NodeHubCache({ dir, client: client() });
    const rows = await readDatasetRows(online, PIQA, 'plain_text', 'validation');
    const offline = new NodeHubCache({ dir, client: unreachable(), offline: true });
    expect(await readDatasetRows(offline, PIQA, 'plain_text', 'validation')).toEqual(rows);
    // Never downloaded: not cached, named as such.
    await expect(readDatasetRows(offline, ARC, 'ARC-Easy', 'test')).rejects.toThrow(NotCachedError);
    await expect(readDatasetRows(offline, PIQA, 'plain_text', 'train')).rejects.toThrow(
      /plain_text\/train .*not in the cache.*HF_HUB_OFFLINE/,
    );
  });

  it('refuses offline a split whose cached shards skip one', async () => {
    const online = new NodeHubCache({ dir, client: client() });
    await online.file(PIQA, PARQUET_REVISION, 'plain_text/validation/0001.parquet', {
      repoType: 'dataset',
    });
    const offline = new NodeHubCache({ dir, client: unreachable(), offline: true });
    const error = await readDatasetRows(offline, PIQA, 'plain_text', 'validation').catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NotCachedError);
    expect((error as NotCachedError).path).toBe('plain_text/validation/0000.parquet');
  });

  it('names the splits a dataset has when asked for one it lacks', async () => {
    const cache = new NodeHubCache({ dir, client: client() });
    const error = await readDatasetRows(cache, PIQA, 'plain_text', 'test').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ParquetSplitNotFoundError);
    expect((error as ParquetSplitNotFoundError).available).toEqual([
      'plain_text/train',
      'plain_text/validation',
    ]);
    expect((error as Error).message).toContain('it has plain_text/train, plain_text/validation');
  });

  it('reports a shard that is not Parquet, naming it', async () => {
    const cache = new NodeHubCache({ dir, client: client() });
    const error = await readDatasetRows(cache, BROKEN, 'default', 'test').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidDatasetFileError);
    expect((error as InvalidDatasetFileError).file).toBe(
      `default/test/0000.parquet of dataset ${BROKEN}@${BROKEN_COMMIT}`,
    );
    expect((error as Error).message).toMatch(/cannot read the rows of .*: .*download it again/);
  });

  it('stops when its signal aborts', async () => {
    const cache = new NodeHubCache({ dir, client: client() });
    const signal = AbortSignal.abort();
    await expect(
      readDatasetRows(cache, PIQA, 'plain_text', 'validation', { signal }),
    ).rejects.toThrow();
    expect(downloads()).toEqual([]);
  });
});

describe('readParquetRows', () => {
  const bytes = parquetOf(PIQA_0, { rowGroupSize: 2 });

  it('reads bytes or a ByteSource, up to a limit', async () => {
    expect(await readParquetRows(bytes)).toEqual(PIQA_0);
    expect(await readParquetRows(bytesSource(bytes), { limit: 1 })).toEqual([PIQA_0[0]]);
    // A view into a larger buffer.
    const padded = new Uint8Array(bytes.length + 10);
    padded.set(bytes, 5);
    expect(await readParquetRows(padded.subarray(5, 5 + bytes.length))).toEqual(PIQA_0);
  });

  it('refuses corrupt or truncated bytes with a typed error', async () => {
    for (const broken of [new Uint8Array(0), bytes.subarray(0, bytes.length - 9), bytes.slice(8)]) {
      await expect(readParquetRows(broken, { name: 'x.parquet' })).rejects.toThrow(
        InvalidDatasetFileError,
      );
    }
    await expect(readParquetRows(new TextEncoder().encode('{"a": 1}'))).rejects.toThrow(
      /cannot read the rows of Parquet file/,
    );
  });

  it('turns int64 into numbers when exact, and refuses the others', async () => {
    const file = (values: bigint[]) =>
      new Uint8Array(
        parquetWriteBuffer({ columnData: [{ name: 'n', data: values, type: 'INT64' }] }),
      );
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    expect(await readParquetRows(file([-max, max]))).toEqual([
      { n: -Number.MAX_SAFE_INTEGER },
      { n: Number.MAX_SAFE_INTEGER },
    ]);
    const error = await readParquetRows(file([1n, max + 1n]), { name: 'ids.parquet' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UnsafeDatasetIntegerError);
    expect(error).toMatchObject({ file: 'ids.parquet', row: 1, field: 'n', value: max + 1n });
  });
});

describe('readJsonlRows', () => {
  it('reads one object a line, skipping blank lines', () => {
    const text = '{"text": "a", "n": 1}\r\n\n  \n{"text": "b", "tags": ["x"]}';
    expect(readJsonlRows(text)).toEqual([
      { text: 'a', n: 1 },
      { text: 'b', tags: ['x'] },
    ]);
    expect(readJsonlRows('')).toEqual([]);
  });

  it('names the line that is not a JSON object', () => {
    const bad = () => readJsonlRows('{"a": 1}\n\n{"a": 2\n', { name: 'lambada_test.jsonl' });
    expect(bad).toThrow(InvalidDatasetFileError);
    expect(bad).toThrow(/^lambada_test\.jsonl line 3 is not a JSON object: /);
    try {
      bad();
    } catch (error) {
      expect((error as InvalidDatasetFileError).line).toBe(3);
    }
    expect(() => readJsonlRows('{"a": 1}\n[1, 2]')).toThrow(/line 2 .*it holds an array/);
    expect(() => readJsonlRows('null')).toThrow(/line 1 .*it holds null/);
  });
});
