import {
  BrowserHubCache,
  HubClient,
  openCheckpoint,
  pickWeightFiles,
  type RepoFile,
} from '@pythiajs/checkpoint-hub';
import { checkpointConfig, generate, NeoXModel, tokenLogprobs } from '@pythiajs/neox-model';
import { topKWithProbabilities } from '@pythiajs/sampler';
import { createDevice, type Device } from '@pythiajs/tensor-core';
import type { Tokenizer } from '@pythiajs/tokenizer';
import { resolveChoice } from '../dtype-fit.js';
import { analysisIds, analyze } from './analysis.js';
import { errorInfo } from './errors.js';
import { evaluate } from './evaluation.js';
import type {
  AcrossTrainingEvent,
  Analysis,
  CachedCheckpoint,
  EvaluateEvent,
  EvaluateRequest,
  Evaluation,
  GenerateRequest,
  GenerateSummary,
  LoadEvent,
  LoadRequest,
  ModelInfo,
  ModelSource,
  Prepared,
  TokenEvent,
  Tokenized,
} from './protocol.js';
import { candidates, tokenText } from './token-text.js';
import { tokenizerFor } from './tokenizer-source.js';

/**
 * Everything the worker holds: one GPU device for every model it loads (so compiled pipelines
 * are reused), the browser cache of each Hub, the tokenizer and the loaded model.
 */
export class Session {
  private device: Promise<Device> | undefined;
  private readonly stores = new Map<string, Promise<BrowserHubCache>>();
  private tokenizer: Promise<Tokenizer> | undefined;
  private model: NeoXModel | undefined;
  private source: ModelSource | undefined;
  private generation: AbortController | undefined;

  /** Lists a revision, picks its tokenizer and checks the cache; downloads no weights. */
  async prepare(source: ModelSource): Promise<Prepared> {
    const store = await this.store(source.hub);
    let files: RepoFile[] | undefined;
    let problem: Prepared['problem'];
    try {
      files = await store.files(source.repo, source.revision);
    } catch (error) {
      problem = errorInfo(error);
    }
    let chosen = tokenizerFor(store, source, files);
    try {
      await chosen.tokenizer;
    } catch {
      // The repo's own tokenizer.json failed to download or parse: the bundled one still works.
      chosen = tokenizerFor(store, source, undefined);
      await chosen.tokenizer;
    }
    this.tokenizer = chosen.tokenizer;
    return {
      tokenizer: chosen.origin,
      downloadBytes: files ? checkpointBytes(files) : 0,
      cached: files ? await this.isCached(source) : false,
      ...(problem ? { problem } : {}),
    };
  }

  /**
   * The revisions of `repo` that load from the browser cache alone. The cache's listing says
   * which revisions have files stored; each is then opened offline, as a load would, since a
   * revision whose listing was read but whose weights were never downloaded is stored too.
   */
  async cachedCheckpoints(hub: string, repo: string): Promise<CachedCheckpoint[]> {
    const store = await this.store(hub);
    const found: CachedCheckpoint[] = [];
    for (const revision of await store.list()) {
      if (revision.repo !== repo || revision.size === 0) continue;
      if (await this.isCached({ hub, repo, revision: revision.commit })) {
        found.push({ commit: revision.commit, refs: revision.refs });
      }
    }
    return found;
  }

  async tokenize(text: string): Promise<Tokenized> {
    const tokenizer = await this.needTokenizer();
    const { ids, offsets } = tokenizer.encodeWithOffsets(text);
    return { ids, offsets, spellings: ids.map((id) => tokenizer.idToToken(id) ?? '') };
  }

  /**
   * Downloads (or reads from the cache) and uploads a checkpoint, replacing the loaded model, in
   * the dtype chosen: `auto` is decided from the checkpoint's config and the device's limits.
   */
  async load(request: LoadRequest, onEvent: (event: LoadEvent) => void): Promise<ModelInfo> {
    const started = performance.now();
    const source: ModelSource = {
      hub: request.hub,
      repo: request.repo,
      revision: request.revision,
    };
    const store = await this.store(source.hub);
    const device = await this.gpu();
    const fromCache = await this.isCached(source);
    // Freed first: two models of the larger sizes may not fit at once.
    this.model?.dispose();
    this.model = undefined;
    this.source = undefined;
    // What NeoXModel.load does, opened here so that `auto` can read the config first.
    const checkpoint = await openCheckpoint(source.repo, source.revision, store, {
      onProgress: (progress) => onEvent({ phase: 'download', ...progress }),
    });
    let model: NeoXModel;
    let fit: ReturnType<typeof resolveChoice>;
    let quantized: ModelInfo['quantized'] = 'load';
    try {
      const config = checkpointConfig(checkpoint);
      fit = resolveChoice(request.dtype, config, device.limits, request.gpuMemory);
      model = await NeoXModel.fromCheckpoint(checkpoint, {
        device,
        dtype: fit.dtype,
        // Quantized weights are kept in OPFS, so that reloading the page skips quantizing them.
        quantizedCache: hasOpfs(),
        onProgress: (event) => {
          if (event.phase === 'quantized-cache')
            quantized =
              event.action === 'read' ? 'cache' : event.action === 'written' ? 'kept' : 'load';
          onEvent(event);
        },
      });
    } finally {
      await checkpoint.close();
    }
    this.model = model;
    this.source = source;
    const { config } = model;
    const info = device.adapterInfo;
    return {
      repo: source.repo,
      revision: source.revision,
      commit: model.source.commit,
      layers: config.numLayers,
      heads: config.numHeads,
      hiddenSize: config.hiddenSize,
      vocabSize: config.vocabSize,
      shaderF16: device.features.shaderF16,
      dtype: model.dtype,
      chosen: request.dtype,
      estimatedBytes: fit.bytes,
      fits: fit.fits,
      adapter: [info.description, info.vendor, info.architecture].filter(Boolean).join(' · '),
      fromCache,
      ...(model.dtype === 'q8' || model.dtype === 'q4' ? { quantized } : {}),
      seconds: (performance.now() - started) / 1000,
    };
  }

  /** Streams a continuation of `request.text`; `stop()` ends it early. */
  async generate(
    request: GenerateRequest,
    onToken: (token: TokenEvent) => void,
  ): Promise<GenerateSummary> {
    const model = this.needModel();
    const tokenizer = await this.needTokenizer();
    const abort = new AbortController();
    this.generation = abort;
    const started = performance.now();
    let firstToken: number | undefined;
    let count = 0;
    try {
      const tokens = generate(model, {
        text: request.text,
        tokenizer,
        maxNewTokens: request.maxNewTokens,
        temperature: request.temperature,
        topK: request.topK,
        topP: request.topP,
        seed: request.seed,
        signal: abort.signal,
      });
      for (;;) {
        const next = await tokens.next();
        if (next.done) {
          const seconds = (performance.now() - started) / 1000;
          return {
            tokens: count,
            reason: next.value,
            seconds,
            firstTokenSeconds: ((firstToken ?? performance.now()) - started) / 1000,
          };
        }
        firstToken ??= performance.now();
        count++;
        onToken(next.value);
      }
    } finally {
      if (this.generation === abort) this.generation = undefined;
    }
  }

  stop(): void {
    this.generation?.abort();
  }

  async analyze(text: string): Promise<Analysis> {
    return analyze(this.needModel(), await this.needTokenizer(), text);
  }

  /**
   * The same text under several checkpoints: the next-token top 5 and the loss of each token.
   * Each checkpoint is loaded, measured and freed in turn; the loaded model stays as it is.
   */
  async acrossTraining(
    text: string,
    revisions: readonly string[],
    onEvent: (event: AcrossTrainingEvent) => void,
  ): Promise<null> {
    const current = this.needSource();
    const tokenizer = await this.needTokenizer();
    const ids = analysisIds(tokenizer, text);
    const tokens = ids.map((id) => tokenText(tokenizer, id));
    const store = await this.store(current.hub);
    const device = await this.gpu();
    for (const [index, revision] of revisions.entries()) {
      onEvent({ kind: 'start', revision, index, count: revisions.length, tokens });
      // Loaded here and freed after; the page's own model is reused when it is this commit.
      let owned: NeoXModel | undefined;
      try {
        const commit = await store.resolve(current.repo, revision);
        let model = this.model?.source.commit === commit ? this.model : undefined;
        if (!model) {
          // In the loaded model's dtype, so that every row is measured alike.
          owned = await NeoXModel.load(
            { repo: current.repo, revision },
            {
              device,
              store,
              ...(this.model ? { dtype: this.model.dtype } : {}),
              onProgress: (p) => onEvent({ kind: 'progress', revision, ...p }),
            },
          );
          model = owned;
        }
        const next = await model.forward(ids, { logits: 'last' });
        const losses = Array.from(await tokenLogprobs(model, ids), (logprob) => -logprob);
        // Pythia's padded ids past the tokenizer never occur in text: not candidates.
        const top = candidates(
          tokenizer,
          topKWithProbabilities(next, 5, { vocabSize: tokenizer.vocabSize }),
        );
        onEvent({ kind: 'row', revision, commit, top, losses });
      } catch (error) {
        onEvent({ kind: 'failed', revision, error: errorInfo(error) });
      } finally {
        owned?.dispose();
      }
    }
    return null;
  }

  /**
   * A live run of a few examples of one task on the loaded checkpoint. The task's dataset comes
   * from the same Hub as the model, through the same browser cache (as a dataset repository).
   */
  async evaluate(
    request: EvaluateRequest,
    onEvent: (event: EvaluateEvent) => void,
  ): Promise<Evaluation> {
    const model = this.needModel();
    const source = this.needSource();
    const tokenizer = await this.needTokenizer();
    const store = await this.store(source.hub);
    return evaluate(model, tokenizer, store, source, request, onEvent);
  }

  private store(hub: string): Promise<BrowserHubCache> {
    let store = this.stores.get(hub);
    if (!store) {
      store = BrowserHubCache.create({ client: new HubClient({ endpoint: hub }) });
      this.stores.set(hub, store);
    }
    return store;
  }

  /** Whether the checkpoint opens from the cache alone: config and weights all stored. */
  private async isCached(source: ModelSource): Promise<boolean> {
    const client = new HubClient({ endpoint: source.hub });
    const offline = await BrowserHubCache.create({ client, offline: true });
    try {
      const checkpoint = await openCheckpoint(source.repo, source.revision, offline);
      await checkpoint.close();
      return true;
    } catch {
      return false;
    }
  }

  private gpu(): Promise<Device> {
    this.device ??= createDevice();
    // A failed request (no WebGPU here) is not remembered: the next load asks again.
    this.device.catch(() => {
      this.device = undefined;
    });
    return this.device;
  }

  private needTokenizer(): Promise<Tokenizer> {
    if (!this.tokenizer) throw new Error('The tokenizer is not loaded yet.');
    return this.tokenizer;
  }

  private needModel(): NeoXModel {
    if (!this.model) throw new Error('Load a model first.');
    return this.model;
  }

  private needSource(): ModelSource {
    if (!this.source) throw new Error('Load a model first.');
    return this.source;
  }
}

/** Bytes of what a load downloads: `config.json` and the weights in the format it picks. */
function checkpointBytes(files: readonly RepoFile[]): number {
  const weights = pickWeightFiles(files.map((f) => f.path));
  if (!weights) return 0;
  const extension = weights.format === 'safetensors' ? '.safetensors' : '.bin';
  const wanted = (path: string) =>
    path === 'config.json' ||
    path === weights.index ||
    (weights.index ? path.endsWith(extension) : weights.files.includes(path));
  return files.filter((f) => wanted(f.path)).reduce((sum, f) => sum + f.size, 0);
}

/** The Origin Private File System, where quantized weights are kept between visits. */
function hasOpfs(): boolean {
  return typeof navigator.storage?.getDirectory === 'function';
}
