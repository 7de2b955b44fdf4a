// The yardstick kernel lives in the package; the bench uses the same one.
export { STREAM_READ_WORKGROUPS, streamReadWgsl } from '../src/kernels/stream-read.js';
