import { describe, expect, it } from 'vitest';
import { formatBytes, formatSeconds, percent, showToken } from '../src/format.js';

describe('formatting', () => {
  it('gives sizes in decimal units', () => {
    expect(formatBytes(564)).toBe('564 B');
    expect(formatBytes(6_492_888)).toBe('6.5 MB');
    expect(formatBytes(166_000_000)).toBe('166 MB');
    expect(formatBytes(24_000_000_000)).toBe('24 GB');
  });

  it('never shows 100% before the end', () => {
    expect(percent(0, 0)).toBe(0);
    expect(percent(999, 1000)).toBe(99);
    expect(percent(1000, 1000)).toBe(100);
  });

  it('gives durations in ms or s', () => {
    expect(formatSeconds(0.34)).toBe('340 ms');
    expect(formatSeconds(3.25)).toBe('3.3 s');
  });

  it('shows tokens with their spaces visible and long runs shortened', () => {
    expect(showToken(' am')).toBe('·am');
    expect(showToken('\n')).toBe('↵');
    expect(showToken('')).toBe('∅');
    expect(showToken(' '.repeat(24))).toBe('·×24');
    expect(showToken('Hello')).toBe('Hello');
  });
});
