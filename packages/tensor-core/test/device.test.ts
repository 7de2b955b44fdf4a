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
