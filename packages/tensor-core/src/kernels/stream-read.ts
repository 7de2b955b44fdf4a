/**
 * The bandwidth yardstick: every invocation sums a grid-stride run of vec4<u32> words of `src`
 * (16-byte loads, consecutive invocations on consecutive words, like the GEMV's weight reads) and
 * writes one word so that the loads cannot be optimised away. Bytes read / time = the adapter's
 * streaming-read bandwidth as a WGSL kernel sees it.
 */
export const streamReadWgsl = /* wgsl */ `// stream-read: out[i] = sum of src[i + j*stride], vec4<u32> loads
struct Params { words: u32 }
@group(0) @binding(0) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let stride = nwg.x * 256u;
  var acc = vec4<u32>(0u);
  for (var i = gid.x; i < params.words; i += stride) {
    acc += src[i];
  }
  out[gid.x] = acc.x + acc.y + acc.z + acc.w;
}
`;

/** Workgroups of the stream-read kernel (enough to fill any GPU, few enough for lavapipe). */
export const STREAM_READ_WORKGROUPS = 1024;
