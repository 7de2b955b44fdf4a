import './style.css';
import { Tokenizer } from '@pythiajs/tokenizer';
import { fetchHubText, resolveUrl } from './hub.js';
import { readParams } from './params.js';
import { setStatus } from './status-line.js';
import { mountTokenizerView } from './tokenizer-view.js';
import { mountWebGpuStatus } from './webgpu-status.js';

function element<T extends HTMLElement = HTMLElement>(testId: string): T {
  const found = document.querySelector<T>(`[data-testid="${testId}"]`);
  if (!found) throw new Error(`index.html lacks [data-testid="${testId}"]`);
  return found;
}

const params = readParams(location.search);
const status = element('status');
const prompt = element<HTMLTextAreaElement>('prompt');
prompt.value = params.prompt;
element('source').textContent = `${params.model} @ ${params.revision} from ${params.hub}`;

// Independent of the tokenizer download, so a missing Hub never hides what the GPU offers.
void mountWebGpuStatus(element('webgpu')).catch((error: unknown) => {
  element('webgpu').textContent = `WebGPU check failed: ${String(error)}`;
});

async function loadTokenizer(): Promise<void> {
  let url = '';
  try {
    url = resolveUrl(params, 'tokenizer.json');
    setStatus(status, 'loading', `Loading ${url} …`);
    const tokenizer = Tokenizer.fromJSON(await fetchHubText(params, 'tokenizer.json'));
    mountTokenizerView(tokenizer, {
      prompt,
      tokens: element('tokens'),
      ids: element('ids'),
      count: element('count'),
    });
    setStatus(
      status,
      'ready',
      `Tokenizer ready: ${tokenizer.vocabSize.toLocaleString('en')} tokens.`,
    );
  } catch (error) {
    // Errors from fetchHubText already name the URL; a tokenizer.json that fails to parse does not.
    const message = error instanceof Error ? error.message : String(error);
    const prefix = url && !message.includes(url) ? `Could not load ${url}: ` : '';
    setStatus(status, 'error', prefix + message);
  }
}

void loadTokenizer();
