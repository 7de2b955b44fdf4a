import type { Tokenizer } from '@pythiajs/tokenizer';
import { tokenSegments } from './token-segments.js';

/** The playground's elements; the page's markup owns them, this view fills them. */
export interface TokenizerViewElements {
  prompt: HTMLTextAreaElement;
  tokens: HTMLElement;
  ids: HTMLElement;
  count: HTMLElement;
}

/** Enough colours that neighbours always differ, few enough to stay calm. */
const PALETTE_SIZE = 6;

/** Tokenizes the prompt now and again after every edit. */
export function mountTokenizerView(tokenizer: Tokenizer, elements: TokenizerViewElements): void {
  const render = (): void => renderTokens(tokenizer, elements);
  elements.prompt.addEventListener('input', render);
  render();
}

function renderTokens(
  tokenizer: Tokenizer,
  { prompt, tokens, ids, count }: TokenizerViewElements,
): void {
  const text = prompt.value;
  const encoding = tokenizer.encodeWithOffsets(text);
  const fragment = document.createDocumentFragment();
  for (const segment of tokenSegments(text, encoding.offsets)) {
    if (segment.kind === 'text') {
      fragment.append(segment.text);
      continue;
    }
    const id = encoding.ids[segment.index]!;
    const span = document.createElement('span');
    span.className = `token t${segment.index % PALETTE_SIZE}`;
    // Whitespace-only and character-sharing tokens would otherwise be invisible.
    if (segment.text === '') span.classList.add('token-byte');
    else if (segment.text.trim() === '') {
      span.classList.add(segment.text.includes('\n') ? 'token-newline' : 'token-space');
    }
    span.dataset.id = String(id);
    span.title = `${id}  ${JSON.stringify(tokenizer.idToToken(id) ?? '')}`;
    span.textContent = segment.text;
    fragment.append(span);
  }
  tokens.replaceChildren(fragment);
  ids.textContent = encoding.ids.join(', ');
  const n = encoding.ids.length;
  count.textContent = `${n} ${n === 1 ? 'token' : 'tokens'}, ${text.length} characters`;
}
