import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  HubClient,
  InvalidModelRefError,
  LocalFolderNotFoundError,
  openCheckpoint,
} from '@pythiajs/checkpoint-hub';
import { LocalFolderStore, NodeHubCache } from '@pythiajs/checkpoint-hub/node';
import { type FakeCommit, FakeHub } from '@pythiajs/checkpoint-hub/testing';
import {
  createDevice,
  type Device,
  NoAdapterError,
  WebGPUUnavailableError,
} from '@pythiajs/tensor-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkpointDtype,
  configDtype,
  ModelSourceError,
  NeoXModel,
  OutOfMemoryError,
  parseNeoXConfig,
  resolveModelSource,
} from '../src/index.js';
import { fixtureFolder, golden, maxAbsDiff } from './golden.js';

const COMMIT = 'a'.repeat(40);
const REPO = 'EleutherAI/pythia-tiny';

function fixtureCommit(name: string): FakeCommit {
  const commit: FakeCommit = {};
  for (const file of readdirSync(fixtureFolder(name)))
    if (file !== 'golden.json') commit[file] = readFileSync(join(fixtureFolder(name), file));
  return commit;
}

const hub = new FakeHub({
  [REPO]: { branches: { main: COMMIT }, commits: { [COMMIT]: fixtureCommit('tiny-neox-f16') } },
});
let cacheDir: string;
const store = () =>
  new NodeHubCache({
    dir: cacheDir,
    client: new HubClient({ endpoint: hub.hubOrigin, retries: 0 }),
    offline: false,
  });
/** Requests that fetched a file of the revision (its config or weights), not just a listing. */
const fileRequests = () =>
  hub.requests.filter((r) => r.url.includes('/resolve/') || r.origin === 'cdn');

beforeAll(async () => {
  await hub.start();
  cacheDir = mkdtempSync(join(tmpdir(), 'neox-loading-'));
});
afterAll(async () => {
  await hub.stop();
  rmSync(cacheDir, { recursive: true, force: true });
});

/** Dawn (the `webgpu` package) as tensor-core loads it in Node: that package depends on it. */
function dawnModule(): string {
  const tensorCore = createRequire(import.meta.url).resolve('@pythiajs/tensor-core/package.json');
  return pathToFileURL(createRequire(tensorCore).resolve('webgpu')).href;
}

/** A WebGPU entry point whose adapter request fails as `fail` says. */
const brokenGpu = (fail: () => Promise<GPUAdapter | null>) =>
  ({ requestAdapter: fail }) as unknown as GPU;

describe('NeoXModel.load looks for WebGPU before it downloads anything', () => {
  it('without the webgpu package: WebGPUUnavailableError, and no file requested from the Hub', async () => {
    const before = hub.requests.length;
    const missing = brokenGpu(() =>
      Promise.reject(
        new WebGPUUnavailableError(
          "WebGPU in Node needs the optional peer dependency 'webgpu' (Dawn): run `npm install webgpu`",
        ),
      ),
    );
    await expect(
      NeoXModel.load(REPO, { store: store(), deviceOptions: { gpu: missing } }),
    ).rejects.toThrow(WebGPUUnavailableError);
    expect(hub.requests.slice(before)).toEqual([]);
  });

  it('with WebGPU but no adapter: NoAdapterError, and no file requested from the Hub', async () => {
    const before = fileRequests().length;
    await expect(
      NeoXModel.load(REPO, {
        store: store(),
        deviceOptions: { gpu: brokenGpu(() => Promise.resolve(null)) },
      }),
    ).rejects.toThrow(NoAdapterError);
    expect(fileRequests().length).toBe(before);
  });

  it('destroys the device it created when the load then fails', async () => {
    const { create } = (await import(dawnModule())) as { create(flags: string[]): GPU };
    const real = create([]);
    const created: GPUDevice[] = [];
    // The real adapter, with the device it hands out recorded.
    const gpu = {
      requestAdapter: async (options?: GPURequestAdapterOptions) => {
        const adapter = await real.requestAdapter(options);
        if (!adapter) return null;
        return new Proxy(adapter, {
          get: (target, key) => {
            if (key === 'requestDevice')
              return async (descriptor?: GPUDeviceDescriptor) => {
                const device = await target.requestDevice(descriptor);
                created.push(device);
                return device;
              };
            const value = Reflect.get(target, key, target);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        });
      },
    } as unknown as GPU;
    await expect(
      NeoXModel.load('EleutherAI/pythia-nope', { store: store(), deviceOptions: { gpu } }),
    ).rejects.toThrow(/has no repository EleutherAI\/pythia-nope/);
    expect(created).toHaveLength(1);
    expect((await created[0]!.lost).reason).toBe('destroyed');
  });
});

describe("the weights load in the checkpoint's own dtype unless dtype says otherwise", () => {
  let device: Device;
  beforeAll(async () => {
    device = await createDevice();
  });
  afterAll(() => device?.destroy());

  /** Max |Δlogit| against the float64 reference over every case's last row. */
  async function logitError(model: NeoXModel, fixture: string): Promise<number> {
    let worst = 0;
    for (const c of golden(fixture)) {
      const last = await model.forward(c.ids, { logits: 'last' });
      worst = Math.max(worst, maxAbsDiff(last, c.logits_last));
    }
    return worst;
  }

  it('an f32 checkpoint loads as f32 and gives the reference logits within 1e-4', async () => {
    const model = await NeoXModel.load(
      { folder: fixtureFolder('tiny-neox-f32-sharded') },
      { device },
    );
    expect(model.dtype).toBe('f32');
    expect(await logitError(model, 'tiny-neox-f32-sharded')).toBeLessThanOrEqual(1e-4);
    model.dispose();
  });

  it("an f16 checkpoint loads as f16 (Pythia's published weights)", async () => {
    for (const fixture of ['tiny-neox-f16', 'tiny-neox-bin']) {
      const model = await NeoXModel.load({ folder: fixtureFolder(fixture) }, { device });
      expect(model.dtype).toBe('f16');
      // The stored weights are f16: loading them as f16 loses nothing.
      expect(await logitError(model, fixture)).toBeLessThanOrEqual(1e-4);
      model.dispose();
    }
  });

  it('dtype overrides it: an f32 checkpoint as f16 takes half the memory and drifts by ~7e-3', async () => {
    const folder = { folder: fixtureFolder('tiny-neox-f32-sharded') };
    const f32 = await NeoXModel.load(folder, { device });
    const f16 = await NeoXModel.load(folder, { device, dtype: 'f16' });
    expect(f16.dtype).toBe('f16');
    expect(f16.weights.bytes).toBeLessThan(0.6 * f32.weights.bytes);
    expect(await logitError(f16, 'tiny-neox-f32-sharded')).toBeGreaterThan(1e-4);
    f32.dispose();
    f16.dispose();
  });

  it('is decided by the matrices: all F16 → f16; F32, BF16 or a mix → f32; vectors do not count', () => {
    const tensors = (...dtypes: Array<[string, number[]]>) => ({
      tensors: new Map(
        dtypes.map(([dtype, shape], i) => [
          `t${i}`,
          { name: `t${i}`, dtype, shape, offset: 0, byteLength: 0, file: 'x' },
        ]),
      ) as never,
    });
    expect(checkpointDtype(tensors(['F16', [4, 4]], ['F32', [4]]))).toBe('f16');
    expect(checkpointDtype(tensors(['F32', [4, 4]], ['F32', [4]]))).toBe('f32');
    expect(checkpointDtype(tensors(['BF16', [4, 4]], ['BF16', [4]]))).toBe('f32');
    expect(checkpointDtype(tensors(['F16', [4, 4]], ['BF16', [4, 4]]))).toBe('f32');
  });

  it("is predicted from config.json's torch_dtype before the weights are downloaded", () => {
    const config = (name: string) =>
      parseNeoXConfig(readFileSync(join(fixtureFolder(name), 'config.json'), 'utf8'));
    expect(configDtype(config('tiny-neox-f16'))).toBe('f16');
    expect(configDtype(config('tiny-neox-f32-sharded'))).toBe('f32');
    expect(configDtype({})).toBe('f32'); // unknown: the larger estimate
  });

  it('checks memoryBudget against the weights in the dtype they load in', async () => {
    const checkpoint = await openCheckpoint(
      fixtureFolder('tiny-neox-f32-sharded'),
      'local',
      new LocalFolderStore(),
    );
    // f32 (the default here) needs more than this; f16 weights fit.
    const budget = 7_000_000;
    const error = await NeoXModel.fromCheckpoint(checkpoint, {
      device,
      memoryBudget: budget,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutOfMemoryError);
    expect((error as Error).message).toMatch(/with f32 weights needs about .*or dtype: 'f16'/);
    const f16 = await NeoXModel.fromCheckpoint(checkpoint, {
      device,
      memoryBudget: budget,
      dtype: 'f16',
    });
    f16.dispose();
    await checkpoint.close();
  });
});

describe('resolveModelSource: one reading of a source, for load and for programs that open it themselves', () => {
  const node = { environment: 'node' } as const;

  it('reads Hub references, with the revision from @ or the option', async () => {
    const ref = await resolveModelSource('pythia-70m-deduped@step3000', node);
    expect(ref).toMatchObject({
      repo: 'EleutherAI/pythia-70m-deduped',
      revision: 'step3000',
      local: false,
      label: 'EleutherAI/pythia-70m-deduped@step3000',
    });
    expect(ref.store).toBeInstanceOf(NodeHubCache);
    expect(
      await resolveModelSource('EleutherAI/pythia-160m', { ...node, revision: 'step1' }),
    ).toMatchObject({ repo: 'EleutherAI/pythia-160m', revision: 'step1' });
    expect(await resolveModelSource({ repo: 'org/model' }, node)).toMatchObject({
      revision: 'main',
    });
  });

  it('takes an existing directory as a checkpoint folder, with its only revision local', async () => {
    const folder = fixtureFolder('tiny-neox-f16');
    for (const source of [folder, { folder }]) {
      const resolved = await resolveModelSource(source, node);
      expect(resolved).toMatchObject({
        repo: folder,
        revision: 'local',
        local: true,
        label: folder,
      });
      expect(resolved.store).toBeInstanceOf(LocalFolderStore);
    }
  });

  it('keeps a store it is given', async () => {
    const given = store();
    expect((await resolveModelSource('org/model', { ...node, store: given })).store).toBe(given);
  });

  it('reports a path that names no folder as a missing folder, not as an unknown repo', async () => {
    for (const path of ['./no-such-checkpoint', '/no/such', 'a/b/c']) {
      await expect(resolveModelSource(path, node)).rejects.toThrow(
        new LocalFolderNotFoundError(resolve(path)),
      );
    }
    // In a browser there are no folders: the same text is a (bad) Hub reference.
    await expect(
      resolveModelSource('a/b/c', { environment: 'browser', store: store() }),
    ).rejects.toThrow(InvalidModelRefError);
  });

  it('refuses a source that contradicts itself, saying which parts disagree', async () => {
    await expect(
      resolveModelSource('pythia-70m@step1', { ...node, revision: 'step2' }),
    ).rejects.toThrow(
      new ModelSourceError(
        'pythia-70m@step1 names revision step1 and the revision option says step2; give one',
      ),
    );
    await expect(
      resolveModelSource(
        { folder: fixtureFolder('tiny-neox-f16') },
        { ...node, revision: 'step2' },
      ),
    ).rejects.toThrow(/revision step2 applies to Hub repos; .* is a local folder/);
    // Saying the same revision twice is no contradiction.
    expect(
      (await resolveModelSource('pythia-70m@step1', { ...node, revision: 'step1' })).revision,
    ).toBe('step1');
  });
});
