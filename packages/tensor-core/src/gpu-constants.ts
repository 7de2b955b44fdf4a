// The WebGPU flag values are fixed by the spec. Spelling them out avoids depending on the
// GPUBufferUsage/GPUMapMode globals, which Node's `webgpu` package does not install.

export const BufferUsage = {
  MAP_READ: 0x1,
  COPY_SRC: 0x4,
  COPY_DST: 0x8,
  UNIFORM: 0x40,
  STORAGE: 0x80,
  QUERY_RESOLVE: 0x200,
} as const;

export const MapMode = { READ: 0x1 } as const;
