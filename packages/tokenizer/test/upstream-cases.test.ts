import { describe, expect, it } from 'vitest';
import { neox, upstreamCases } from './fixtures.js';

describe('GPT-NeoX-20B on the upstream test suites (llama.cpp, lm-evaluation-harness, transformers)', () => {
  it('has the 52 published cases', () => {
    expect(upstreamCases).toHaveLength(52);
  });

  for (const { text, ids, source } of upstreamCases) {
    it(`encodes ${JSON.stringify(text).slice(0, 60)} (${source.split(' ')[0]})`, () => {
      expect(neox.encode(text)).toEqual(ids);
      expect(neox.decode(ids)).toBe(text.normalize('NFC'));
    });
  }
});
