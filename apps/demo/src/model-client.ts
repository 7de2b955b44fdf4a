import type {
  Api,
  ErrorInfo,
  RequestMessage,
  RequestType,
  ResponseMessage,
} from './worker/protocol.js';

/** An error the worker reported; `name` is the class it had there (e.g. `RepoNotFoundError`). */
export class WorkerError extends Error {
  constructor(info: ErrorInfo) {
    super(info.message);
    this.name = info.name;
  }
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
  onEvent?: (event: never) => void;
}

/** The page's side of the model worker: each request a promise, its events a callback. */
export class ModelClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly worker: Worker) {
    worker.addEventListener('message', (message: MessageEvent<ResponseMessage>) => {
      const response = message.data;
      const pending = this.pending.get(response.id);
      if (!pending) return;
      if (response.kind === 'event') {
        pending.onEvent?.(response.event as never);
        return;
      }
      this.pending.delete(response.id);
      if (response.kind === 'result') pending.resolve(response.result);
      else pending.reject(new WorkerError(response.error));
    });
    // A worker that fails to start (a script error, a blocked URL) would leave every request
    // waiting forever; fail them instead, with what the browser says.
    worker.addEventListener('error', (event) => {
      const error = new Error(`The model worker failed: ${event.message || 'it did not start'}`);
      for (const pending of this.pending.values()) pending.reject(error);
      this.pending.clear();
    });
  }

  /** Starts the worker Vite bundles from `worker/model-worker.ts`. */
  static start(): ModelClient {
    return new ModelClient(
      new Worker(new URL('./worker/model-worker.ts', import.meta.url), { type: 'module' }),
    );
  }

  call<K extends RequestType>(
    type: K,
    request: Api[K]['request'],
    onEvent?: (event: Api[K]['event']) => void,
  ): Promise<Api[K]['result']> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        resolve: resolve as (result: unknown) => void,
        reject,
        ...(onEvent ? { onEvent: onEvent as (event: never) => void } : {}),
      });
      const message: RequestMessage<K> = { id, type, request };
      this.worker.postMessage(message);
    });
  }
}
