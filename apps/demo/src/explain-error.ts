import { TASK_TABLE, type TaskName } from '@pythiajs/evals';
import { DEFAULT_PARAMS } from './params.js';

/** An error from the worker, as its class name and message. */
export interface NamedError {
  name: string;
  message: string;
}

/** Where the page was loading from, for advice about what the visitor can change. */
export interface ErrorContext {
  hub: string;
  repo: string;
  revision: string;
  /**
   * Which of them the visitor gave in the page's URL. Only those get advice to check a query
   * parameter: a visitor who typed no URL picked from the page, and is told to pick again.
   */
  fromUrl: { hub: boolean; model: boolean; revision: boolean };
}

const ENABLE_WEBGPU =
  'Use a browser with WebGPU: Chrome or Edge 113+ (on Linux, turn on ' +
  'chrome://flags/#enable-unsafe-webgpu and chrome://flags/#enable-vulkan), Safari 26+, ' +
  'or Firefox 141+ on Windows.';

/**
 * A failure as a sentence a reader can act on: what went wrong, then what to change. The
 * packages' typed errors (by class name, as they cross the worker boundary) each get advice in
 * the page's terms: their own advice after ";" is for Node (HF_ENDPOINT, HF_HUB_OFFLINE, the
 * CLI) and is dropped.
 */
export function explainError(error: NamedError, where: ErrorContext): string {
  const what = sentence(error.message.split('; ')[0]!);
  const hub = where.hub === DEFAULT_PARAMS.hub ? 'the Hugging Face Hub' : `the Hub at ${where.hub}`;
  const checkHub = where.fromUrl.hub
    ? 'Check that ?hub= gives the address of a running Hub or mirror of its API.'
    : 'Check the internet connection, then press “Load checkpoint” to try again.';
  switch (error.name) {
    case 'HubNetworkError':
    case 'HubTimeoutError':
      return `${capital(hub)} did not answer. ${checkHub}`;
    case 'NotCachedError':
      // Thrown when the Hub did not answer and the cache cannot stand in for it.
      return (
        `${capital(hub)} did not answer, and ${where.repo} @ ${where.revision} is not cached in ` +
        `this browser. ${checkHub}`
      );
    case 'IncompleteListingError':
      // The listing's next page is behind a Link header the page may not read (CORS): a mirror's
      // setup, which the visitor can only fix by pointing ?hub= elsewhere.
      return (
        `Could not list all files of ${where.repo} @ ${where.revision}: ${hub} does not let this ` +
        'page read the next page of its file listing (its Link header is not exposed to browsers). ' +
        (where.fromUrl.hub
          ? 'Check that the Hub or mirror that ?hub= gives sends Access-Control-Expose-Headers: Link.'
          : 'Try again later.')
      );
    case 'HubResponseError':
      return `${capital(hub)} answered something other than the Hub's API. ${where.fromUrl.hub ? checkHub : 'Try again later.'}`;
    case 'RepoNotFoundError':
      return where.fromUrl.model
        ? `${what} Check ?model=: an org/name repository id such as EleutherAI/pythia-70m.`
        : `${what} Pick another model.`;
    case 'RevisionNotFoundError':
      return where.fromUrl.revision
        ? `${what} Check ?revision=: a branch, tag or commit of ${where.repo}, such as main ` +
            '(Pythia checkpoints are the branches step0, step1, step2, step4 … step512, ' +
            'step1000 … step143000).'
        : `${what} Pick a checkpoint on the slider.`;
    case 'HubAccessError':
      return `${what} Gated and private repositories are not supported here.`;
    case 'WebGPUUnavailableError':
      return `${what} ${ENABLE_WEBGPU}`;
    case 'NoAdapterError':
      return (
        `${what} The browser has WebGPU but offered no GPU: chrome://gpu says why, and ` +
        'chrome://flags/#enable-unsafe-webgpu allows blocklisted GPUs.'
      );
    case 'UnsupportedWeightsError':
      // Its advice names the load option; here the choice is the Weights list.
      return `${sentence(error.message.split('. Load this model')[0]!)} Choose f16 (or auto) under Weights and load again.`;
    case 'OutOfMemoryError':
      return `${what} Pick a smaller model, or q8 or q4 under Weights.`;
    default:
      return sentence(error.message);
  }
}

/** Capitalised, ending in a full stop. */
function sentence(text: string): string {
  const trimmed = capital(text.trim());
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export { ENABLE_WEBGPU };

/** Checks `?hub=` before anything is fetched from it. */
export function hubProblem(hub: string): string | undefined {
  let url: URL;
  try {
    url = new URL(hub);
  } catch {
    return `"${hub}" is not a URL. Give ?hub= as a full address such as https://huggingface.co.`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `?hub= must be an http or https URL, not "${hub}".`;
  }
  return undefined;
}

/** Any thrown value as a class name and a message, as errors cross the worker boundary. */
export function namedError(error: unknown): NamedError {
  return typeof error === 'object' && error !== null && 'message' in error
    ? {
        name: String((error as { name?: unknown }).name ?? 'Error'),
        message: String(error.message),
      }
    : { name: 'Error', message: String(error) };
}

/** Where a live evaluation read its examples from. */
export interface EvalErrorContext {
  hub: string;
  /** The visitor gave the Hub as `?hub=`. */
  fromUrlHub: boolean;
  /** The task run, e.g. `piqa`. */
  task: TaskName;
}

/**
 * A failure to get a task's examples (the Hub did not answer, the dataset is not there or not
 * cached) as one sentence in the page's terms, naming the task and its dataset; `undefined` for
 * any other error, which {@link explainError} explains as it would for the model.
 */
export function explainEvalError(error: NamedError, where: EvalErrorContext): string | undefined {
  const { repo } = TASK_TABLE[where.task].hub;
  const examples = `the ${where.task} examples (dataset ${repo})`;
  const hub = where.hub === DEFAULT_PARAMS.hub ? 'the Hugging Face Hub' : `the Hub at ${where.hub}`;
  const retry = where.fromUrlHub
    ? 'Check that ?hub= gives the address of a running Hub or mirror of its API.'
    : 'Check the internet connection, then run the examples again.';
  switch (error.name) {
    case 'HubNetworkError':
    case 'HubTimeoutError':
      return `${capital(hub)} did not answer, so ${examples} could not be downloaded. ${retry}`;
    case 'NotCachedError':
    case 'PartlyCachedError':
      return `${capital(hub)} did not answer, and ${examples} are not cached in this browser. ${retry}`;
    case 'RepoNotFoundError':
      return `${capital(hub)} has no dataset ${repo}, so the ${where.task} examples cannot be read there. Pick another task.`;
    case 'RevisionNotFoundError':
      return (
        `${capital(hub)} has no Parquet conversion of dataset ${repo}, which is where this page ` +
        `reads the ${where.task} examples. Pick another task.`
      );
    case 'ParquetSplitNotFoundError':
    case 'EntryNotFoundError':
      return `${sentence(error.message.split('; ')[0]!)} Pick another task.`;
    case 'HubAccessError':
      return `${capital(hub)} refused access to dataset ${repo}: gated and private datasets are not supported here.`;
    case 'IntegrityError':
      return `A file of ${examples} arrived damaged and was discarded. Run the examples again.`;
    case 'InvalidDatasetFileError':
    case 'UnsafeDatasetIntegerError':
      return `${sentence(error.message.split('; ')[0]!)} The examples cannot be read.`;
    default:
      return undefined;
  }
}
