import { tokenSegments } from '../token-segments.js';
import type { Tokenized } from '../worker/protocol.js';

/** The prompt's tokens view; the page's markup owns these elements. */
export interface TokensViewElements {
  tokens: HTMLElement;
  ids: HTMLElement;
  count: HTMLElement;
}

/** Enough colours that neighbours always differ, few enough to stay calm. */
const PALETTE_SIZE = 6;

/** Draws `text` as coloured token spans (hover: id and byte-level spelling), then the ids. */
export function renderTokens(
  { tokens, ids, count }: TokensViewElements,
  text: string,
  encoding: Tokenized,
): void {
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
    span.title = `${id}  ${JSON.stringify(encoding.spellings[segment.index] ?? '')}`;
    span.textContent = segment.text;
    fragment.append(span);
  }
  tokens.replaceChildren(fragment);
  ids.textContent = encoding.ids.join(', ');
  const n = encoding.ids.length;
  count.textContent = `${n} ${n === 1 ? 'token' : 'tokens'}, ${text.length} characters`;
}
