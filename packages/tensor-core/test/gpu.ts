import { createDevice, type Device, type DeviceOptions } from '../src/index.js';

/**
 * A device on the machine's adapter (lavapipe in CI). Without an adapter this throws
 * NoAdapterError, failing the test: GPU tests must never pass by skipping.
 */
export function testDevice(options?: DeviceOptions): Promise<Device> {
  return createDevice(options);
}
