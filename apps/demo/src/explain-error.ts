/** An error from the worker, as its class name and message. */
export interface NamedError {
  name: string;
  message: string;
}

/** Where the page was loading from, for advice that names the right query parameter. */
export interface ErrorContext {
  hub: string;
  repo: string;
  revision: string;
}

const ENABLE_WEBGPU =
  'Use a browser with WebGPU: Chrome or Edge 113+ (on Linux, turn on ' +
  'chrome://flags/#enable-unsafe-webgpu and chrome://flags/#enable-vulkan), Safari 26+, ' +
  'or Firefox 141+ on Windows.';

const NETWORK_ADVICE =
  'Without network access to huggingface.co, run a mirror that serves the Hub API and files ' +
  '(for tests: FakeHub of @pythiajs/checkpoint-hub/testing) and add ?hub=http://localhost:8080 ' +
  '(its address) to this page.';

/**
 * A failure as a sentence a reader can act on: what went wrong, then what to change. The
 * packages' typed errors (by class name, as they cross the worker boundary) each get advice.
 */
export function explainError(error: NamedError, where: ErrorContext): string {
  // The packages' advice after ";" is for Node (HF_ENDPOINT, HF_HUB_OFFLINE); a page gives its own.
  const what = sentence(error.message.split('; ')[0]!);
  switch (error.name) {
    case 'HubNetworkError':
      return (
        `${what} This page needs network access to the Hugging Face Hub (${where.hub}) for ` +
        `checkpoints it has not cached. ${NETWORK_ADVICE}`
      );
    case 'RepoNotFoundError':
      return `${what} Check ?model=: an org/name repository id such as EleutherAI/pythia-70m.`;
    case 'RevisionNotFoundError':
      return (
        `${what} Check ?revision=: Pythia checkpoints are the branches step0, step1, step2, ` +
        `step4 … step512, step1000 … step143000, and main (${where.repo}@${where.revision} was asked for).`
      );
    case 'HubAccessError':
      return `${what} Gated and private repositories are not supported here.`;
    case 'NotCachedError':
      // Thrown when the Hub did not answer and the cache cannot stand in for it.
      return (
        `The Hub (${where.hub}) did not answer, and ${where.repo}@${where.revision} is not in ` +
        `this browser's cache. ${NETWORK_ADVICE}`
      );
    case 'WebGPUUnavailableError':
      return `${what} ${ENABLE_WEBGPU}`;
    case 'NoAdapterError':
      return (
        `${what} The browser has WebGPU but offered no GPU: chrome://gpu says why, and ` +
        'chrome://flags/#enable-unsafe-webgpu allows blocklisted GPUs.'
      );
    default:
      return sentence(error.message);
  }
}

/** Capitalised, ending in a full stop. */
function sentence(text: string): string {
  const trimmed = text.trim();
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
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
