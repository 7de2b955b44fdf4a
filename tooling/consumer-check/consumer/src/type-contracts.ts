// What the published types promise and forbid, checked by compiling (never run). An expected
// error that does not occur fails the build: if the WebGPU types were missing and became `any`,
// or an internal member were public, one of the lines below would compile.
import type { Checkpoint } from '@pythiajs/checkpoint-hub';
import { type Device, Tensor } from '@pythiajs/tensor-core';

export function contracts(device: Device, tensor: Tensor<'f32'>, checkpoint: Checkpoint): void {
  const gpuDevice: GPUDevice = device.gpuDevice;
  const buffer: GPUBuffer = tensor.buffer;
  const format: 'safetensors' | 'bin' = checkpoint.format;
  void [gpuDevice, buffer, format];

  // @ts-expect-error a GPUBuffer is a real type, so it is no string
  const notAString: string = tensor.buffer;
  void notAString;

  // @ts-expect-error tensors come from their device (zeros, empty, tensor), not a constructor
  void new Tensor(device, [], [1], 'f32');

  // @ts-expect-error moving raw buffers is the device's business, not part of its API
  void device.readBuffer;
}
