import { KernelCompileError } from './errors.js';

// GPUShaderStage.COMPUTE (fixed by the spec; Node's `webgpu` installs no GPUShaderStage global).
const COMPUTE_STAGE = 0x4;

/** Pipeline-overridable constants of a kernel (`override` declarations in WGSL). */
export type KernelConstants = Readonly<Record<string, number>>;

/**
 * What a device keeps per (WGSL, constants): the pipeline once compiled, and what recording a
 * dispatch of it needs without asking WebGPU again (its bind group layout, which bindings take a
 * dynamic offset, its profile label, its cached bind groups).
 *
 * @internal
 */
export interface PipelineEntry {
  /** The pipeline once compiled (set before `promise` resolves). */
  compiled: GPUComputePipeline | undefined;
  /** Resolves to the compiled pipeline; rejects with a `KernelCompileError`. */
  promise: Promise<GPUComputePipeline>;
  /**
   * The layout of `@group(0)`. Explicit (declared from the WGSL, every uniform binding with a
   * dynamic offset) when `dynamic`; else the pipeline's `'auto'` layout, fetched on first use.
   */
  layout: GPUBindGroupLayout | undefined;
  /** True when the pipeline has the explicit layout, so its bind groups can be cached. */
  dynamic: boolean;
  /** With `dynamic`: the binding numbers of the uniform bindings, ascending. */
  readonly uniformBindings: readonly number[];
  /** Bindings declared in `@group(0)` (0…n−1), or -1 when the WGSL was not understood. */
  readonly declaredBindings: number;
  /** The first word of the WGSL's first line comment, for profiles. */
  readonly label: string;
  /** Bind groups of this pipeline by the buffers they bind (see {@link BindGroupCache}). */
  bindGroups: Map<unknown, unknown> | undefined;
}

interface DeclaredBinding {
  binding: number;
  type: GPUBufferBindingType;
}

/**
 * Compiles each (WGSL source, constants) pair once per device, asynchronously so that compiling
 * never blocks the main thread, and hands the same pipeline to every later dispatch.
 */
export class PipelineCache {
  readonly #device: GPUDevice;
  readonly #modules = new Map<string, GPUShaderModule>();
  // By code, then by the constants' key ('' for none), so a lookup builds no key string.
  readonly #entries = new Map<string, Map<string, PipelineEntry>>();
  #count = 0;

  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /** How many distinct pipelines were requested (compiled or compiling). */
  get size(): number {
    return this.#count;
  }

  /** The compute pipeline of `code`'s `main` entry point specialised with `constants`. */
  get(code: string, constants?: KernelConstants): Promise<GPUComputePipeline> {
    return this.entry(code, constants).promise;
  }

  /** The pipeline if it has finished compiling, so a dispatch can be recorded at once. */
  ready(code: string, constants?: KernelConstants): GPUComputePipeline | undefined {
    return this.#entries.get(code)?.get(constantsKey(constants))?.compiled;
  }

  /**
   * The entry of (`code`, `constants`), compiling it on first request. `autoLayout` asks for
   * the pipeline with WebGPU's `'auto'` layout (for dispatches that bind fewer buffers than the
   * WGSL declares), a separate pipeline.
   *
   * @internal
   */
  entry(code: string, constants?: KernelConstants, autoLayout = false): PipelineEntry {
    let byConstants = this.#entries.get(code);
    if (!byConstants) {
      byConstants = new Map();
      this.#entries.set(code, byConstants);
    }
    const key = autoLayout ? `auto\u0000${constantsKey(constants)}` : constantsKey(constants);
    let entry = byConstants.get(key);
    if (!entry) {
      entry = this.#create(code, constants ?? {}, autoLayout);
      byConstants.set(key, entry);
      this.#count++;
      const created = entry;
      const table = byConstants;
      entry.promise.catch(() => {
        // A failed compile must not poison the cache for a retry (e.g. after a lost device).
        if (table.get(key) === created) {
          table.delete(key);
          this.#count--;
        }
      });
    }
    return entry;
  }

  #create(code: string, constants: KernelConstants, autoLayout: boolean): PipelineEntry {
    const declared = declaredBindings(code);
    const entry: PipelineEntry = {
      compiled: undefined,
      promise: Promise.resolve() as never, // set just below: compiling fills in this entry
      layout: undefined,
      dynamic: false,
      uniformBindings: declared
        ? declared.filter((d) => d.type === 'uniform').map((d) => d.binding)
        : [],
      declaredBindings: declared ? declared.length : -1,
      label: labelOf(code),
      bindGroups: undefined,
    };
    entry.promise = this.#compile(code, constants, autoLayout ? undefined : declared, entry);
    return entry;
  }

  async #compile(
    code: string,
    constants: KernelConstants,
    declared: DeclaredBinding[] | undefined,
    entry: PipelineEntry,
  ): Promise<GPUComputePipeline> {
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
      const compute = { module, entryPoint: 'main', constants: { ...constants } };
      const explicit = declared && this.#explicitLayout(declared);
      if (explicit) {
        try {
          const compiled = await this.#device.createComputePipelineAsync({
            layout: explicit.pipelineLayout,
            compute,
          });
          entry.layout = explicit.bindGroupLayout;
          entry.dynamic = true;
          entry.compiled = compiled;
          return compiled;
        } catch {
          // The WGSL says something the declared layout got wrong: let WebGPU derive it.
        }
      }
      const compiled = await this.#device.createComputePipelineAsync({ layout: 'auto', compute });
      entry.compiled = compiled;
      return compiled;
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

  /** `@group(0)`'s layout as declared, uniforms with dynamic offsets; undefined if refused. */
  #explicitLayout(
    declared: DeclaredBinding[],
  ): { bindGroupLayout: GPUBindGroupLayout; pipelineLayout: GPUPipelineLayout } | undefined {
    this.#device.pushErrorScope('validation');
    const bindGroupLayout = this.#device.createBindGroupLayout({
      entries: declared.map(({ binding, type }) => ({
        binding,
        visibility: COMPUTE_STAGE,
        buffer: { type, hasDynamicOffset: type === 'uniform' },
      })),
    });
    const pipelineLayout = this.#device.createPipelineLayout({
      bindGroupLayouts: [bindGroupLayout],
    });
    // An invalid layout makes the pipeline creation below fail, which falls back to 'auto'.
    this.#device.popErrorScope().catch(() => undefined);
    return { bindGroupLayout, pipelineLayout };
  }
}

function constantsKey(constants: KernelConstants | undefined): string {
  if (constants === undefined) return '';
  const names = Object.keys(constants);
  if (names.length === 0) return '';
  names.sort();
  let key = '';
  for (const name of names) key += `${name}=${constants[name]},`;
  return key;
}

function labelOf(code: string): string {
  return /^\s*\/\/\s*([\w-]+)/.exec(code)?.[1] ?? 'kernel';
}

const DECLARATION =
  /((?:@\s*\w+\s*(?:\(\s*[^)]*\))?\s*)+)var\s*<\s*(uniform|storage)\s*(?:,\s*(read_write|read)\s*)?>/g;

/**
 * The buffer bindings of `@group(0)` as the WGSL declares them, in binding order, when they are
 * exactly bindings 0…n−1 of group 0 and all uniform or storage buffers; otherwise undefined (the
 * pipeline then gets WebGPU's `'auto'` layout).
 */
function declaredBindings(code: string): DeclaredBinding[] | undefined {
  const source = code.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ');
  const attributes = source.match(/@\s*binding\s*\(/g)?.length ?? 0;
  const declared: DeclaredBinding[] = [];
  for (const [, attrs = '', space, access] of source.matchAll(DECLARATION)) {
    const group = /@\s*group\s*\(\s*(\d+)\s*\)/.exec(attrs)?.[1];
    const binding = /@\s*binding\s*\(\s*(\d+)\s*\)/.exec(attrs)?.[1];
    if (binding === undefined) continue; // a module-scope var<uniform|storage> without binding
    if (group !== '0') return undefined;
    const type: GPUBufferBindingType =
      space === 'uniform' ? 'uniform' : access === 'read_write' ? 'storage' : 'read-only-storage';
    declared.push({ binding: Number(binding), type });
  }
  if (declared.length !== attributes) return undefined; // textures, samplers, unparsed text
  declared.sort((a, b) => a.binding - b.binding);
  if (declared.some((d, i) => d.binding !== i)) return undefined;
  return declared;
}

// Bind groups kept before the cache starts over (each holds on to the buffers it binds).
const MAX_BIND_GROUPS = 4096;

type Level = Map<unknown, unknown>;

/**
 * Bind groups of explicit-layout pipelines, for reuse: a decode step binds the same pooled
 * buffers in the same order every time, and its uniforms reach the kernels through the ring's
 * dynamic offsets, so after its first run a step creates no bind groups. Kept on each pipeline's
 * entry as a tree of maps: one level per bound buffer (keyed by the GPUBuffer object), then the
 * uniform slot size (a number; 0 without uniforms) to the bind group. A lookup allocates nothing.
 *
 * @internal
 */
export class BindGroupCache {
  // Entries holding bind groups, so that `clear` lets go of all of them.
  readonly #holders = new Set<PipelineEntry>();
  #count = 0;

  /**
   * The map from uniform slot size to bind group of `entry` over `buffers[0…count)`; set what
   * you create with {@link store}.
   */
  level(entry: PipelineEntry, buffers: readonly GPUBuffer[], count: number): Level {
    if (this.#count >= MAX_BIND_GROUPS) this.clear();
    let map = entry.bindGroups;
    if (map === undefined) {
      map = new Map();
      entry.bindGroups = map;
      this.#holders.add(entry);
    }
    for (let i = 0; i < count; i++) {
      const buffer = buffers[i];
      let next = map.get(buffer) as Level | undefined;
      if (next === undefined) {
        next = new Map();
        map.set(buffer, next);
      }
      map = next;
    }
    return map;
  }

  /** Keeps `group` under `slot` of a map {@link level} returned. */
  store(level: Level, slot: number, group: GPUBindGroup): void {
    level.set(slot, group);
    this.#count++;
  }

  /** Forgets every bind group (e.g. once pooled buffers are destroyed). */
  clear(): void {
    for (const entry of this.#holders) entry.bindGroups = undefined;
    this.#holders.clear();
    this.#count = 0;
  }
}
