import { describe, expect, it } from 'vitest';
import {
  add,
  createDevice,
  DeviceLostError,
  KernelCompileError,
  NoAdapterError,
} from '../src/index.js';
import { testDevice } from './gpu.js';

describe('createDevice', () => {
  it('opens the adapter and reports what it is', async () => {
    const device = await testDevice();
    expect(device.environment).toBe('node');
    expect(Object.keys(device.adapterInfo).sort()).toEqual([
      'architecture',
      'description',
      'device',
      'vendor',
    ]);
    expect(`${device.adapterInfo.vendor}${device.adapterInfo.description}`).not.toBe('');
    device.destroy();
  });

  it('requests the adapter’s real limits rather than the WebGPU defaults', async () => {
    const device = await testDevice();
    expect(device.limits.maxStorageBufferBindingSize).toBe(
      device.gpuDevice.limits.maxStorageBufferBindingSize,
    );
    // lavapipe offers 128 MiB bindings and 4 GiB buffers, beyond the defaults of 128 MiB / 256 MiB.
    expect(device.limits.maxBufferSize).toBeGreaterThan(268435456);
    expect(device.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
    expect(device.limits.maxComputeWorkgroupStorageSize).toBeGreaterThanOrEqual(16384);
    expect(device.limits.maxComputeWorkgroupSizeX).toBeGreaterThanOrEqual(256);
    device.destroy();
  });

  it('enables shader-f16 where the adapter has it, unless told not to', async () => {
    const native = await testDevice();
    expect(native.features.shaderF16).toBe(native.gpuDevice.features.has('shader-f16'));
    native.destroy();
    const packed = await testDevice({ disableF16: true });
    expect(packed.features.shaderF16).toBe(false);
    expect(packed.gpuDevice.features.has('shader-f16')).toBe(false);
    packed.destroy();
  });

  it('throws NoAdapterError telling how to install a driver when there is no adapter', async () => {
    const gpu = { requestAdapter: async () => null } as unknown as GPU;
    const error = await createDevice({ gpu }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoAdapterError);
    expect((error as Error).message).toMatch(/mesa-vulkan-drivers/);
  });
});

describe('a device', () => {
  it('resolves lost and refuses further work with DeviceLostError once destroyed', async () => {
    const device = await testDevice();
    const x = device.tensor(new Float32Array([1]));
    device.destroy();
    await expect(device.lost).resolves.toMatchObject({ reason: 'destroyed' });
    expect(device.alive).toBe(false);
    expect(() => add(x, x)).toThrow(DeviceLostError);
    expect(() => device.zeros([1])).toThrow(DeviceLostError);
    await expect(x.read()).rejects.toThrow(DeviceLostError);
  });

  it('ends a pending read with DeviceLostError instead of hanging when the device goes away', async () => {
    const device = await testDevice();
    const x = device.tensor(new Float32Array([1, 2]));
    const read = x.read();
    device.gpuDevice.destroy(); // behind the wrapper's back, like a driver reset
    await expect(read).rejects.toThrow(DeviceLostError);
    await expect(device.lost).resolves.toMatchObject({ reason: 'destroyed' });
  });

  it('compiles each kernel once and reuses the pipeline', async () => {
    const device = await testDevice();
    const x = device.tensor(new Float32Array([1, 2, 3]));
    add(x, x);
    const afterFirst = device.pipelines.size;
    add(add(x, x), x);
    await device.flush();
    expect(afterFirst).toBe(1);
    expect(device.pipelines.size).toBe(1);
    device.destroy();
  });

  it('reports a WGSL compile error as KernelCompileError at the next flush', async () => {
    const device = await testDevice();
    const x = device.tensor(new Float32Array([1]));
    device.dispatch({
      code: '// broken\n@compute @workgroup_size(1) fn main() { let a: u32 = 1.5; }',
      bindings: [],
      workgroups: [1],
    });
    await expect(device.flush()).rejects.toThrow(KernelCompileError);
    // The device stays usable afterwards.
    expect(Array.from(await add(x, x).read())).toEqual([2]);
    device.destroy();
  });
});

describe('dispatch', () => {
  const kinds = /* wgsl */ `// uniform-kinds: copies a mixed uniform struct to out
struct Params { a: u32, b: i32, c: f32, d: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;
@compute @workgroup_size(1)
fn main() {
  out[0] = f32(params.a);
  out[1] = f32(params.b);
  out[2] = params.c;
  out[3] = f32(params.d);
}
`;

  it('stages uniforms of any ArrayBufferView, each dispatch its own slot', async () => {
    const device = await testDevice();
    const params = (a: number, b: number, c: number, d: number) => {
      const view = new DataView(new ArrayBuffer(24), 4, 16);
      view.setUint32(0, a, true);
      view.setInt32(4, b, true);
      view.setFloat32(8, c, true);
      view.setUint32(12, d, true);
      return view;
    };
    const mixed = params(7, -3, 0.5, 9);
    const bytes = params(11, 12, 13.5, 14);
    const inputs: ArrayBufferView[] = [
      new Uint32Array([1, 2, 0x40400000, 4]), // the f32 field's bits: 3.0
      new Int32Array([5, -6, 0, 8]),
      new Float32Array([0, 0, 2.5, 0]),
      new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      mixed,
    ];
    const outs = inputs.map((uniforms) => {
      const out = device.zeros([4]);
      device.dispatch({ code: kinds, bindings: [out], uniforms, workgroups: [1] });
      return out;
    });
    const read = await Promise.all(outs.map((t) => t.read()));
    expect(read.map((r) => Array.from(r))).toEqual([
      [1, 2, 3, 4],
      [5, -6, 0, 8],
      [0, 0, 2.5, 0],
      [11, 12, 13.5, 14],
      [7, -3, 0.5, 9],
    ]);
    // The same buffers again: the bind group is reused with new uniforms.
    const created = device.stats.bindGroupsCreated;
    device.dispatch({ code: kinds, bindings: [outs[0]!], uniforms: inputs[1]!, workgroups: [1] });
    expect(Array.from(await outs[0]!.read())).toEqual([5, -6, 0, 8]);
    expect(device.stats.bindGroupsCreated).toBe(created);
    device.destroy();
  });

  it('runs a kernel that declares a binding its dispatch leaves out (unused by main)', async () => {
    const device = await testDevice();
    const out = device.zeros([1]);
    device.dispatch({
      code: `// spare-binding
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> spare: array<f32>;
@compute @workgroup_size(1) fn main() { out[0] = 42.0; }`,
      bindings: [out],
      workgroups: [1],
    });
    expect(Array.from(await out.read())).toEqual([42]);
    device.destroy();
  });
});
