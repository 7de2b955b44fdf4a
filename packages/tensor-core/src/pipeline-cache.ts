import { KernelCompileError } from './errors.js';

/** Pipeline-overridable constants of a kernel (`override` declarations in WGSL). */
export type KernelConstants = Readonly<Record<string, number>>;

/**
 * Compiles each (WGSL source, constants) pair once per device, asynchronously so that compiling
 * never blocks the main thread, and hands the same pipeline to every later dispatch.
 */
export class PipelineCache {
  readonly #device: GPUDevice;
  readonly #modules = new Map<string, GPUShaderModule>();
  readonly #pipelines = new Map<string, Promise<GPUComputePipeline>>();
  readonly #ready = new Map<string, GPUComputePipeline>();

  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /** How many distinct pipelines were requested (compiled or compiling). */
  get size(): number {
    return this.#pipelines.size;
  }

  /** The compute pipeline of `code`'s `main` entry point specialised with `constants`. */
  get(code: string, constants: KernelConstants = {}): Promise<GPUComputePipeline> {
    const key = keyOf(code, constants);
    let pipeline = this.#pipelines.get(key);
    if (!pipeline) {
      pipeline = this.#compile(code, constants);
      this.#pipelines.set(key, pipeline);
      pipeline.then(
        (compiled) => this.#ready.set(key, compiled),
        // A failed compile must not poison the cache for a retry (e.g. after a lost device).
        () => this.#pipelines.delete(key),
      );
    }
    return pipeline;
  }

  /** The pipeline if it has finished compiling, so a dispatch can be recorded at once. */
  ready(code: string, constants: KernelConstants = {}): GPUComputePipeline | undefined {
    return this.#ready.get(keyOf(code, constants));
  }

  async #compile(code: string, constants: KernelConstants): Promise<GPUComputePipeline> {
    let module = this.#modules.get(code);
    let moduleError: Promise<GPUError | null> = Promise.resolve(null);
    if (!module) {
      // Scoped so a WGSL error belongs to this kernel instead of the device's uncaptured errors.
      this.#device.pushErrorScope('validation');
      module = this.#device.createShaderModule({ code });
      moduleError = this.#device.popErrorScope();
      this.#modules.set(code, module);
    }
    try {
      const error = await moduleError;
      if (error) throw error;
      return await this.#device.createComputePipelineAsync({
        layout: 'auto',
        compute: { module, entryPoint: 'main', constants: { ...constants } },
      });
    } catch (cause) {
      this.#modules.delete(code);
      const info = await module.getCompilationInfo().catch(() => undefined);
      const messages = (info?.messages ?? [])
        .map((m) => `${m.type} at ${m.lineNum}:${m.linePos}: ${m.message}`)
        .join('\n');
      const firstLine = code.trimStart().split('\n')[0] ?? '';
      throw new KernelCompileError(
        `WGSL kernel failed to compile (${firstLine}): ${messages || ((cause as { message?: string }).message ?? String(cause))}`,
        { cause },
      );
    }
  }
}

function keyOf(code: string, constants: KernelConstants): string {
  const names = Object.keys(constants).sort();
  return `${code}\u0000${names.map((n) => `${n}=${constants[n]}`).join(',')}`;
}
