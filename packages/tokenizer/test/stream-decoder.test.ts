import { describe, expect, it } from 'vitest';
import { neox } from './fixtures.js';

describe('the streaming decoder', () => {
  it('holds back the bytes of a character split across tokens until it completes', () => {
    const ids = neox.encode('I 🤗 you');
    const stream = neox.createStreamDecoder();
    const chunks = ids.map((id) => stream.push(id));
    // The emoji is several byte tokens: the first ones yield nothing, the last yields it whole.
    expect(chunks.filter((c) => c === '').length).toBeGreaterThan(0);
    expect(chunks.join('') + stream.flush()).toBe('I 🤗 you');
    expect(chunks.some((c) => c.includes('🤗'))).toBe(true);
  });

  it('flushes an unfinished character as U+FFFD and starts over', () => {
    const emoji = neox.encode('🤗');
    const stream = neox.createStreamDecoder();
    expect(stream.push(emoji[0]!)).toBe('');
    expect(stream.flush()).toBe('\ufffd');
    expect(stream.push(neox.encode('ok')[0]!)).toBe('ok');
  });

  it('skips special tokens when asked', () => {
    const stream = neox.createStreamDecoder({ skipSpecialTokens: true });
    expect([0, 12092, 0].map((id) => stream.push(id)).join('')).toBe('Hello');
  });
});
