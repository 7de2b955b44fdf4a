import { formatSeconds } from '../format.js';
import { MAX_NEW_TOKENS_LIMIT } from '../params.js';
import type { GenerateRequest, GenerateSummary, TokenEvent } from '../worker/protocol.js';

export interface GenerationElements {
  prompt: HTMLTextAreaElement;
  temperature: HTMLInputElement;
  topK: HTMLInputElement;
  topP: HTMLInputElement;
  maxNewTokens: HTMLInputElement;
  seed: HTMLInputElement;
  generate: HTMLButtonElement;
  stop: HTMLButtonElement;
  echo: HTMLElement;
  output: HTMLElement;
  speed: HTMLElement;
}

type Sampling = Omit<GenerateRequest, 'text'>;

const REASONS: Record<GenerateSummary['reason'], string> = {
  eos: 'end of text',
  stop: 'stop string',
  length: 'token limit',
  context: 'context full',
  abort: 'stopped',
};

/**
 * The prompt, the sampler's controls and the streamed output. `data-ids` on the output lists
 * the generated ids, `data-state` says whether tokens are still coming.
 */
export function createGenerationView(elements: GenerationElements, initial: GenerateRequest) {
  const { prompt, temperature, topK, topP, maxNewTokens, seed, output, echo, speed } = elements;
  prompt.value = initial.text;
  temperature.value = String(initial.temperature);
  topK.value = String(initial.topK);
  topP.value = String(initial.topP);
  maxNewTokens.value = String(initial.maxNewTokens);
  maxNewTokens.max = String(MAX_NEW_TOKENS_LIMIT);
  seed.value = String(initial.seed);
  let ids: number[] = [];

  /** A field's number, or its default when the field holds something else. */
  const read = (input: HTMLInputElement, fallback: number, valid: (v: number) => boolean) => {
    const value = input.valueAsNumber;
    return Number.isFinite(value) && valid(value) ? value : fallback;
  };

  return {
    request(): GenerateRequest {
      const sampling: Sampling = {
        temperature: read(temperature, initial.temperature, (v) => v >= 0),
        topK: read(topK, initial.topK, (v) => Number.isInteger(v) && v >= 0),
        topP: read(topP, initial.topP, (v) => v > 0 && v <= 1),
        maxNewTokens: read(
          maxNewTokens,
          initial.maxNewTokens,
          (v) => Number.isInteger(v) && v >= 1 && v <= MAX_NEW_TOKENS_LIMIT,
        ),
        seed: read(seed, initial.seed, Number.isSafeInteger),
      };
      return { text: prompt.value, ...sampling };
    },
    start(text: string): void {
      ids = [];
      echo.textContent = text;
      output.textContent = '';
      output.dataset.ids = '';
      output.dataset.state = 'generating';
      speed.textContent = 'Generating…';
    },
    token(token: TokenEvent): void {
      ids.push(token.id);
      output.append(token.text);
      output.dataset.ids = ids.join(',');
    },
    finish(summary: GenerateSummary): void {
      output.dataset.state = summary.reason === 'abort' ? 'stopped' : 'done';
      const rate = summary.tokens / Math.max(summary.seconds, 1e-6);
      speed.textContent =
        `${summary.tokens} tokens in ${formatSeconds(summary.seconds)} · ` +
        `${rate.toFixed(1)} tokens/s · first token after ${formatSeconds(summary.firstTokenSeconds)} ` +
        `· ended: ${REASONS[summary.reason]}`;
    },
    fail(message: string): void {
      output.dataset.state = 'error';
      speed.textContent = message;
    },
  };
}
