import { mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  damagedBlobs,
  type FakeCommit,
  FakeHub,
  folderState,
  sha256Hex,
} from '@pythiajs/checkpoint-hub/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeNpy } from '../src/npy.js';
import { fixtureCommit, golden, hubEnv, pythia, type Run } from './support.js';

// The CLI against a Hub stand-in that misbehaves as mirrors, proxies, flaky links and damaged
// uploads do. Whatever happens, the user gets one line on stderr and exit 1 in seconds, and
// nothing outside the cache folder changes.

const GOOD = 'a'.repeat(40);
const f16 = fixtureCommit('tiny-neox-f16');
const weights = f16['model.safetensors'] as Uint8Array;
const [hello] = golden('tiny-neox-f16');

/** The fixture's weights with one f16 value of `tensor` replaced by NaN. */
function poisoned(tensor: string, index: number): Uint8Array {
  const bytes = weights.slice();
  const view = new DataView(bytes.buffer);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  const [start] = header[tensor].data_offsets as [number, number];
  view.setUint16(8 + headerLength + start + 2 * index, 0x7e00, true);
  return bytes;
}

function repo(files: FakeCommit) {
  return { branches: { main: GOOD }, commits: { [GOOD]: files } };
}

const hub = new FakeHub({
  'EleutherAI/pythia-tiny': repo(f16),
  'EleutherAI/pythia-nan': repo({
    ...f16,
    'model.safetensors': poisoned('gpt_neox.layers.1.mlp.dense_4h_to_h.weight', 7),
  }),
  'EleutherAI/pythia-garbled-config': repo({ ...f16, 'config.json': '{"hidden_size": 32,' }),
  'EleutherAI/pythia-absurd': repo({
    ...f16,
    'config.json': JSON.stringify({
      ...JSON.parse(String(f16['config.json'])),
      num_hidden_layers: 1_000_000_000,
    }),
  }),
});

let parent: string;
let cache: string;
let before: string[];

beforeAll(() => hub.start());
afterAll(() => hub.stop());
beforeEach(async () => {
  hub.faults.length = 0;
  hub.requests.length = 0;
  // The cache is one folder of `parent`: whatever else appears there was written outside it.
  parent = await mkdtemp(join(tmpdir(), 'pythia-hostile-'));
  cache = join(parent, 'hub');
  before = folderState(parent, cache);
});
afterEach(async () => {
  expect(folderState(parent, cache)).toEqual(before);
  expect(damagedBlobs(join(cache, 'models--EleutherAI--pythia-tiny', 'blobs'))).toEqual([]);
  await rm(parent, { recursive: true, force: true });
});

function run(args: string[], env: Record<string, string> = {}): Promise<Run & { seconds: number }> {
  const start = performance.now();
  return pythia(args, {
    env: { ...hubEnv(hub.hubOrigin, cache), ...env },
  }).then((r) => ({ ...r, seconds: (performance.now() - start) / 1000 }));
}

/** Exit 1 and exactly one line on stderr, matching `message`. */
function expectOneLine(result: Run, message: RegExp): void {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr.split('\n')).toEqual([expect.stringMatching(/^pythia: /), '']);
  expect(result.stderr).toMatch(message);
}

const generate = (model: string) => [
  'generate',
  '--model',
  model,
  '--temperature',
  '0',
  '--ids',
  hello!.ids.join(','),
  '--max-new-tokens',
  '2',
];

describe('a server that stops answering', () => {
  it('after the headers: a timeout error after the retries, in seconds, not a hang', async () => {
    hub.faults.push({ match: '/lfs/', stallAfter: 0, times: 100 });
    const result = await run(['download', 'EleutherAI/pythia-tiny'], {
      HF_HUB_DOWNLOAD_TIMEOUT: '0.3',
    });
    expectOneLine(result, /no bytes for 0\.3 s .*HF_HUB_DOWNLOAD_TIMEOUT/);
    expect(result.seconds).toBeLessThan(20);
  });

  it('on an API call: a timeout error naming HF_HUB_ETAG_TIMEOUT', async () => {
    hub.faults.push({ match: '/api/', hang: true, times: 100 });
    const result = await run(['download', 'EleutherAI/pythia-tiny'], {
      HF_HUB_ETAG_TIMEOUT: '0.3',
    });
    expectOneLine(result, /HF_HUB_ETAG_TIMEOUT/);
    expect(result.seconds).toBeLessThan(20);
  });

  it('once, then recovers: the download resumes where it stopped', async () => {
    hub.faults.push({ match: '/lfs/', stallAfter: 1000, times: 1 });
    const result = await run(['download', 'EleutherAI/pythia-tiny'], {
      HF_HUB_DOWNLOAD_TIMEOUT: '0.3',
    });
    expect(result.code, result.stderr).toBe(0);
    const lfs = hub.requests.filter((r) => r.origin === 'cdn').map((r) => r.range);
    expect(lfs).toEqual([undefined, 'bytes=1000-']);
    expect(damagedBlobs(join(cache, 'models--EleutherAI--pythia-tiny', 'blobs'))).toEqual([]);
  });
});

describe('answers that would write outside the cache are refused, and nothing is written', () => {
  it('a commit id that is a path', async () => {
    hub.faults.push({
      match: '/revision/',
      json: (answer) => ({ ...(answer as object), sha: '../../../x' }),
      times: 1,
    });
    expectOneLine(await run(['download', 'EleutherAI/pythia-tiny']), /"\.\.\/\.\.\/\.\.\/x"/);
  });

  it('a file path that climbs out of the snapshot', async () => {
    hub.faults.push({
      match: '/tree/',
      json: (page) =>
        (page as Array<{ path: string }>).map((entry) =>
          entry.path === 'config.json' ? { ...entry, path: '../../../../config.json' } : entry,
        ),
      times: 1,
    });
    expectOneLine(await run(['download', 'EleutherAI/pythia-tiny']), /\.\.\/config\.json/);
  });

  it('a blob id that is a path', async () => {
    hub.faults.push({
      match: '/tree/',
      json: (page) =>
        (page as Array<{ path: string; oid: string }>).map((entry) =>
          entry.path === 'config.json' ? { ...entry, oid: '../../../secret.txt' } : entry,
        ),
      times: 1,
    });
    expectOneLine(await run(['download', 'EleutherAI/pythia-tiny']), /secret\.txt/);
  });
});

describe('answers that are not the Hub API', () => {
  it('an HTML page: names the URL and HF_ENDPOINT', async () => {
    hub.faults.push({
      match: '/tree/',
      body: '<!doctype html><html><body>Sign in to continue</body></html>',
      headers: { 'Content-Type': 'text/html' },
      times: 1,
    });
    const result = await run(['download', 'EleutherAI/pythia-tiny']);
    expectOneLine(result, /\/api\/models\/EleutherAI\/pythia-tiny\/tree\/.*HTML.*HF_ENDPOINT/);
  });

  it('a listing whose next page is itself: refused, not fetched forever', async () => {
    hub.faults.push({
      match: '/tree/',
      headers: (url) => ({ Link: `<${hub.hubOrigin}${url}>; rel="next"` }),
      times: 100,
    });
    expectOneLine(await run(['download', 'EleutherAI/pythia-tiny']), /loop/);
  });
});

describe('a full disk', () => {
  it('stops at once, saying so, without retrying', async () => {
    // Writes to /dev/full fail with ENOSPC: a disk that is full from the first byte.
    const blobs = join(cache, 'models--EleutherAI--pythia-tiny', 'blobs');
    mkdirSync(blobs, { recursive: true });
    symlinkSync('/dev/full', join(blobs, `${sha256Hex(weights)}.incomplete`));
    before = folderState(parent, cache);
    const result = await run(['download', 'EleutherAI/pythia-tiny']);
    expectOneLine(result, /no space left on device writing .*HF_HUB_CACHE/);
    expect(hub.requests.filter((r) => r.origin === 'cdn')).toHaveLength(1);
  });
});

describe('checkpoints that are damaged', () => {
  it('a config.json that is not JSON: the error names it and its revision', async () => {
    const result = await run(generate('EleutherAI/pythia-garbled-config'));
    expectOneLine(
      result,
      /config\.json of EleutherAI\/pythia-garbled-config@main is corrupt or truncated: it is not valid JSON/,
    );
  });

  it('an absurd layer count: refused before any weight is downloaded', async () => {
    const result = await run(generate('EleutherAI/pythia-absurd'));
    expectOneLine(result, /num_hidden_layers.*1000000000.*limit/);
    expect(hub.requests.some((r) => r.url.includes('model.safetensors'))).toBe(false);
    expect(result.seconds).toBeLessThan(20);
  });

  it('NaN weights: reported at load, naming the tensor, not as a logits problem', async () => {
    const result = await run(generate('EleutherAI/pythia-nan'));
    expectOneLine(
      result,
      /gpt_neox\.layers\.1\.mlp\.dense_4h_to_h\.weight .*NaN at index 7.*download it again/,
    );
  });

  it('NaN weights with --allow-non-finite: loaded as asked, and the NaN reaches the logits', async () => {
    const out = join(parent, 'logits.npy');
    before = folderState(parent, cache);
    const result = await run([
      'logits',
      '--model',
      'EleutherAI/pythia-nan',
      '--ids',
      hello!.ids.join(','),
      '--out',
      out,
      '--allow-non-finite',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const logits = decodeNpy(readFileSync(out)).data;
    expect(logits.length).toBe(50304);
    expect(logits.every((x) => Number.isNaN(x))).toBe(true);
    rmSync(out);
  });
});
