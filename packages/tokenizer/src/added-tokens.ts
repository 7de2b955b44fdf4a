/** An entry of `tokenizer.json`'s `added_tokens`. */
export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  /** Matched on normalized text (true) or on the raw input (false). */
  normalized: boolean;
}

interface TrieNode {
  id: number;
  children: Map<number, TrieNode>;
}

/**
 * Finds added tokens in text the way Hugging Face tokenizers does: leftmost match first, and of the
 * matches starting there the longest ("  " vs "    " → the four spaces), non-overlapping.
 */
export class AddedTokenMatcher {
  private readonly root: TrieNode = { id: -1, children: new Map() };
  /** 1 for UTF-16 code units that start some token: most positions are rejected with one load. */
  private readonly first = new Uint8Array(0x10000);
  readonly size: number;

  constructor(tokens: readonly AddedToken[]) {
    this.size = tokens.length;
    for (const token of tokens) {
      let node = this.root;
      for (let i = 0; i < token.content.length; i++) {
        const unit = token.content.charCodeAt(i);
        let child = node.children.get(unit);
        if (!child) {
          child = { id: -1, children: new Map() };
          node.children.set(unit, child);
        }
        node = child;
      }
      node.id = token.id;
      this.first[token.content.charCodeAt(0)] = 1;
    }
  }

  /** Appends `start, end, id` for each match in `text[start, end)` to `out`. */
  findAll(text: string, start: number, end: number, out: number[]): void {
    if (this.size === 0) return;
    let i = start;
    while (i < end) {
      if (this.first[text.charCodeAt(i)] === 0) {
        i++;
        continue;
      }
      let node: TrieNode | undefined = this.root;
      let matchEnd = -1;
      let matchId = -1;
      for (let j = i; j < end; j++) {
        node = node.children.get(text.charCodeAt(j));
        if (!node) break;
        if (node.id !== -1) {
          matchEnd = j + 1;
          matchId = node.id;
        }
      }
      if (matchEnd === -1) {
        i++;
        continue;
      }
      out.push(i, matchEnd, matchId);
      i = matchEnd;
    }
  }
}
