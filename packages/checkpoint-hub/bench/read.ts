// checkpoint-hub benchmark (`pnpm --filter @pythiajs/checkpoint-hub bench`): prints a table and
// one JSON line.
//  1. Reading a cached 1 GiB safetensors checkpoint into typed arrays, against a plain sequential
//     read of the same file in the same run (target ≥ 50%).
//  2. Loading a pythia-70m-shaped `.bin` with its legacy buffers (a 4 MiB causal mask per layer)
//     through RemoteStore: bytes transferred, and how many of them were legacy buffers (target 0).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bytesSource,
  HubClient,
  openCheckpoint,
  RemoteStore,
  readZipDirectory,
  tensorData,
  zipEntryDataOffset,
} from '../src/index.js';
import { NodeHubCache } from '../src/node/index.js';
import { FakeHub } from '../src/testing/index.js';
import {
  type StorageSpec,
  type TensorSpec,
  writeTorchZip,
} from '../test/support/torch-zip-writer.js';

const GiB = 1024 ** 3;
const seconds = (start: number) => (performance.now() - start) / 1000;

// ---------------------------------------------------------------- 1. cached safetensors read
const dir = mkdtempSync(join(tmpdir(), 'pythiajs-bench-'));
const commit = 'b'.repeat(40);
const root = join(dir, 'models--bench--model');
mkdirSync(join(root, 'blobs'), { recursive: true });
mkdirSync(join(root, 'snapshots', commit), { recursive: true });
mkdirSync(join(root, 'refs'), { recursive: true });
writeFileSync(join(root, 'refs', 'main'), commit);
writeFileSync(join(root, 'blobs', 'c'.repeat(40)), '{"model_type": "gpt_neox"}');
symlinkSync(`../../blobs/${'c'.repeat(40)}`, join(root, 'snapshots', commit, 'config.json'));

// 32 layers of pythia-410m-like f16 matrices plus embeddings: about 1 GiB.
const hidden = 1024;
const shapes: Array<[string, number[]]> = [['gpt_neox.embed_in.weight', [50304, hidden]]];
for (let l = 0; l < 32; l++) {
  const p = `gpt_neox.layers.${l}`;
  shapes.push(
    [`${p}.attention.query_key_value.weight`, [3 * hidden, hidden]],
    [`${p}.attention.dense.weight`, [hidden, hidden]],
  );
  shapes.push(
    [`${p}.mlp.dense_h_to_4h.weight`, [4 * hidden, hidden]],
    [`${p}.mlp.dense_4h_to_h.weight`, [hidden, 4 * hidden]],
  );
}
shapes.push(['embed_out.weight', [50304, hidden]]);
const header: Record<string, unknown> = {};
let offset = 0;
for (const [name, shape] of shapes) {
  const bytes = shape.reduce((a, b) => a * b, 1) * 2;
  header[name] = { dtype: 'F16', shape, data_offsets: [offset, offset + bytes] };
  offset += bytes;
}
let json = JSON.stringify(header);
json += ' '.repeat((8 - (json.length % 8)) % 8);
const blobPath = join(root, 'blobs', 'a'.repeat(64));
{
  const handle = await open(blobPath, 'w');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  await handle.write(prefix);
  await handle.write(json);
  const chunk = Buffer.alloc(16 * 1024 * 1024, 0x3c);
  for (let left = offset; left > 0; left -= chunk.length)
    await handle.write(chunk, 0, Math.min(chunk.length, left));
  await handle.close();
}
symlinkSync(`../../blobs/${'a'.repeat(64)}`, join(root, 'snapshots', commit, 'model.safetensors'));
const fileBytes = 8 + json.length + offset;

/** The file read sequentially in 16 MiB chunks, into one reused buffer or a fresh one each. */
async function plainRead(fresh: boolean): Promise<number> {
  const handle = await open(blobPath, 'r');
  const reused = Buffer.alloc(16 * 1024 * 1024);
  const start = performance.now();
  let position = 0;
  for (;;) {
    const buffer = fresh ? new Uint8Array(reused.length) : reused;
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) break;
    position += bytesRead;
  }
  const s = seconds(start);
  await handle.close();
  return position / s / 1e9;
}

// Allocated once, outside the timings, like the plain read's reused buffer.
const stagingBuffer = new Uint8Array(50304 * hidden * 2);

/** Every tensor into a typed array: a fresh one each, or views of one staging buffer. */
async function checkpointRead(staging: boolean): Promise<number> {
  const cache = new NodeHubCache({ dir, offline: true });
  const start = performance.now();
  const checkpoint = await openCheckpoint('bench/model', 'main', cache);
  const buffer = staging ? stagingBuffer : undefined;
  let bytes = 0;
  let checksum = 0;
  for (const [name, entry] of checkpoint.tensors) {
    const data = tensorData(entry.dtype, await checkpoint.read(name, buffer));
    checksum += data[0] as number;
    bytes += data.byteLength;
  }
  const s = seconds(start);
  await checkpoint.close();
  if (checksum === 0) throw new Error('read nothing');
  return bytes / s / 1e9;
}

await plainRead(false); // every measurement starts from a warm page cache
const runs = {
  plainFresh: [] as number[],
  oursFresh: [] as number[],
  plainReused: [] as number[],
  oursStaging: [] as number[],
};
for (let i = 0; i < 3; i++) {
  runs.plainFresh.push(await plainRead(true));
  runs.oursFresh.push(await checkpointRead(false));
  runs.plainReused.push(await plainRead(false));
  runs.oursStaging.push(await checkpointRead(true));
}
rmSync(dir, { recursive: true, force: true });

// ---------------------------------------------------------------- 2. legacy buffers over HTTP
const layers = 6;
const d = 512;
const storages: StorageSpec[] = [];
const tensors: TensorSpec[] = [];
const add = (name: string, type: StorageSpec['type'], shape: number[], elementBytes: number) => {
  const key = String(storages.length);
  storages.push({
    key,
    type,
    bytes: new Uint8Array(shape.reduce((a, b) => a * b, 1) * elementBytes),
  });
  tensors.push({ name, storage: key, shape });
};
add('gpt_neox.embed_in.weight', 'HalfStorage', [50304, d], 2);
for (let l = 0; l < layers; l++) {
  const p = `gpt_neox.layers.${l}`;
  add(`${p}.attention.bias`, 'BoolStorage', [1, 1, 2048, 2048], 1);
  add(`${p}.attention.masked_bias`, 'FloatStorage', [], 4);
  add(`${p}.attention.rotary_emb.inv_freq`, 'FloatStorage', [8], 4);
  add(`${p}.attention.query_key_value.weight`, 'HalfStorage', [3 * d, d], 2);
  add(`${p}.attention.dense.weight`, 'HalfStorage', [d, d], 2);
  add(`${p}.mlp.dense_h_to_4h.weight`, 'HalfStorage', [4 * d, d], 2);
  add(`${p}.mlp.dense_4h_to_h.weight`, 'HalfStorage', [d, 4 * d], 2);
}
add('embed_out.weight', 'HalfStorage', [50304, d], 2);
const bin = writeTorchZip({ tensors, storages, prefix: 'pytorch_model' });
const hub = await new FakeHub({
  'bench/pythia-70m-shaped': {
    branches: { main: commit },
    commits: { [commit]: { 'config.json': '{}', 'pytorch_model.bin': bin } },
  },
}).start();
hub.pageSize = 100;
const store = new RemoteStore(new HubClient({ endpoint: hub.hubOrigin }));
const checkpoint = await openCheckpoint('bench/pythia-70m-shaped', 'main', store);
let needed = 0;
for (const name of checkpoint.tensors.keys()) needed += (await checkpoint.read(name)).length;
const directory = await readZipDirectory(bytesSource(bin), 'pytorch_model.bin');
const legacyRanges: Array<[number, number]> = [];
for (const tensor of tensors.filter((t) =>
  /attention\.(bias|masked_bias|rotary_emb\.inv_freq)$/.test(t.name),
)) {
  const entry = directory.entries.find((e) => e.name === `pytorch_model/data/${tensor.storage}`)!;
  const start = await zipEntryDataOffset(bytesSource(bin), 'pytorch_model.bin', entry, directory);
  legacyRanges.push([start, start + entry.size]);
}
let legacyTransferred = 0;
for (const r of hub.requests.filter((q) => q.origin === 'cdn' && q.range)) {
  const [first, last] = /bytes=(\d+)-(\d+)/.exec(r.range!)!.slice(1).map(Number) as [
    number,
    number,
  ];
  for (const [s, e] of legacyRanges)
    legacyTransferred += Math.max(0, Math.min(last + 1, e) - Math.max(first, s));
}
const legacyBytes = legacyRanges.reduce((n, [s, e]) => n + e - s, 0);
await hub.stop();

const best = (values: number[]) => Math.max(...values);
const gbps = (values: number[]) => Number(best(values).toFixed(2));
const result = {
  safetensors_gib: Number((fileBytes / GiB).toFixed(2)),
  plain_read_fresh_gb_per_s: gbps(runs.plainFresh),
  checkpoint_read_fresh_gb_per_s: gbps(runs.oursFresh),
  read_ratio_fresh: Number((best(runs.oursFresh) / best(runs.plainFresh)).toFixed(2)),
  plain_read_reused_gb_per_s: gbps(runs.plainReused),
  checkpoint_read_staging_gb_per_s: gbps(runs.oursStaging),
  read_ratio_staging: Number((best(runs.oursStaging) / best(runs.plainReused)).toFixed(2)),
  bin_file_bytes: bin.length,
  bin_needed_tensor_bytes: needed,
  bin_transferred_bytes: store.bytesRead,
  legacy_buffer_bytes_in_file: legacyBytes,
  legacy_buffer_bytes_transferred: legacyTransferred,
};
const rows: Array<[string, string]> = [
  ['cached safetensors', `${result.safetensors_gib} GiB, ${shapes.length} tensors`],
  ['plain read, 16 MiB chunks into fresh memory', `${result.plain_read_fresh_gb_per_s} GB/s`],
  [
    'openCheckpoint, each tensor a fresh typed array',
    `${result.checkpoint_read_fresh_gb_per_s} GB/s`,
  ],
  ['  ratio (target ≥ 0.5)', `${result.read_ratio_fresh}`],
  ['plain read, 16 MiB chunks into one reused buffer', `${result.plain_read_reused_gb_per_s} GB/s`],
  [
    'openCheckpoint, tensors through one staging buffer',
    `${result.checkpoint_read_staging_gb_per_s} GB/s`,
  ],
  ['  ratio (target ≥ 0.5)', `${result.read_ratio_staging}`],
  [
    '.bin over HTTP: file / tensors needed',
    `${(bin.length / 1e6).toFixed(1)} MB / ${(needed / 1e6).toFixed(1)} MB`,
  ],
  ['.bin over HTTP: transferred', `${(store.bytesRead / 1e6).toFixed(2)} MB`],
  [
    'legacy buffers: in file / transferred (target 0)',
    `${(legacyBytes / 1e6).toFixed(1)} MB / ${legacyTransferred} bytes`,
  ],
];
const width = Math.max(...rows.map(([k]) => k.length));
for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
console.log(JSON.stringify({ bench: 'checkpoint-hub-read', ...result }));
