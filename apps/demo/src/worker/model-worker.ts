/**
 * The model's thread. Downloads, GPU uploads, generation and analysis run here, so the page
 * keeps drawing and answering clicks while a checkpoint loads or tokens stream.
 */
import { errorInfo } from './errors.js';
import type { Api, RequestMessage, RequestType, ResponseMessage } from './protocol.js';
import { Session } from './session.js';

/** The parts of `DedicatedWorkerGlobalScope` used here (the DOM typings describe a window). */
const scope = self as unknown as {
  postMessage(message: ResponseMessage, transfer: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<RequestMessage>) => void): void;
};

const session = new Session();

type Handler<K extends RequestType> = (
  request: Api[K]['request'],
  emit: (event: Api[K]['event']) => void,
) => Promise<Api[K]['result']> | Api[K]['result'];

const handlers: { [K in RequestType]: Handler<K> } = {
  prepare: (source) => session.prepare(source),
  tokenize: ({ text }) => session.tokenize(text),
  cachedCheckpoints: ({ hub, repo }) => session.cachedCheckpoints(hub, repo),
  load: (source, emit) => session.load(source, emit),
  generate: (request, emit) => session.generate(request, emit),
  stop: () => {
    session.stop();
    return null;
  },
  analyze: ({ text }) => session.analyze(text),
  acrossTraining: ({ text, revisions }, emit) => session.acrossTraining(text, revisions, emit),
  evaluate: (request, emit) => session.evaluate(request, emit),
};

/** Requests that use the GPU run one after another; the others (stop above all) at once. */
const QUEUED: ReadonlySet<RequestType> = new Set([
  'load',
  'generate',
  'analyze',
  'acrossTraining',
  'evaluate',
]);
let queue: Promise<unknown> = Promise.resolve();

scope.addEventListener('message', (message) => {
  const { id, type, request } = message.data;
  const post = (response: ResponseMessage) => scope.postMessage(response, transferables(response));
  const run = async () => {
    try {
      const handler = handlers[type] as Handler<typeof type>;
      const result = await handler(request as never, (event) => post({ id, kind: 'event', event }));
      post({ id, kind: 'result', result });
    } catch (error) {
      post({ id, kind: 'error', error: errorInfo(error) });
    }
  };
  if (QUEUED.has(type)) queue = queue.then(run);
  else void run();
});

/** Attention patterns are moved, not copied, to the page. */
function transferables(response: ResponseMessage): Transferable[] {
  if (response.kind !== 'result') return [];
  const attention = (response.result as { attention?: unknown } | null)?.attention;
  return Array.isArray(attention)
    ? attention
        .filter((a): a is Float32Array => a instanceof Float32Array)
        .map((a) => a.buffer as ArrayBuffer)
    : [];
}
