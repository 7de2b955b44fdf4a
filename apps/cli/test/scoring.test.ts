import { describe, expect, it } from 'vitest';
import { slidingWindows, windowAndStride } from '../src/scoring.js';

describe('the windows of pythia score', () => {
  it('slides windows of the context every half context, each scoring only what is new', () => {
    // 600 tokens, a context of 256: the first window scores tokens 1…255, each later one the
    // 128 tokens after, from at least 128 tokens of context.
    expect(windowAndStride(256, {})).toEqual({ window: 256, stride: 128 });
    expect(slidingWindows(600, 256, 128)).toEqual([
      { start: 0, end: 256, first: 1 },
      { start: 128, end: 384, first: 256 },
      { start: 256, end: 512, first: 384 },
      { start: 384, end: 600, first: 512 },
    ]);
  });

  it('scores every token after the first exactly once, whatever the stride', () => {
    for (const stride of [1, 7, 64, 200, 256]) {
      const windows = slidingWindows(600, 256, stride);
      const scored = windows.flatMap((w) =>
        Array.from({ length: w.end - w.first }, (_, i) => w.first + i),
      );
      expect(scored).toEqual(Array.from({ length: 599 }, (_, i) => i + 1));
      for (const w of windows) {
        expect(w.end - w.start).toBeLessThanOrEqual(256);
        expect(w.start).toBeLessThan(w.first); // a token of context at least
      }
    }
  });

  it('keeps one token of context when the stride is the whole context', () => {
    expect(slidingWindows(600, 256, 256)).toEqual([
      { start: 0, end: 256, first: 1 },
      { start: 255, end: 511, first: 256 },
      { start: 510, end: 600, first: 511 },
    ]);
  });

  it('is one window for a text within the context', () => {
    expect(slidingWindows(10, 2048, 1024)).toEqual([{ start: 0, end: 10, first: 1 }]);
    expect(slidingWindows(1, 2048, 1024)).toEqual([]);
  });
});
