import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { escapeXml, plotSvg, stepPosition, stepTicks } from '../src/eval/plot-svg.js';
import { modelFolder, parseShard, revisionStep, shardOf, shardRange } from '../src/eval/units.js';

describe('--shard i/n', () => {
  it('reads i/n, 0-based, and refuses what a job array cannot mean', () => {
    expect(parseShard('0/4')).toEqual({ index: 0, count: 4 });
    expect(parseShard(' 3 / 4 ')).toEqual({ index: 3, count: 4 });
    expect(() => parseShard('4/4')).toThrow(/i must be below n \(shards are numbered 0 … 3/);
    expect(() => parseShard('1/0')).toThrow(/n must be at least 1/);
    for (const bad of ['1', '1/2/3', '-1/2', 'a/2', '1.5/2', ''])
      expect(() => parseShard(bad)).toThrow(UsageError);
  });

  it('puts every unit in exactly one shard, in contiguous blocks of nearly equal size', () => {
    for (const total of [0, 1, 5, 16, 154 * 8])
      for (const count of [1, 2, 3, 7, 16, 2000]) {
        const owners: number[] = [];
        let sizes: number[] = [];
        for (let index = 0; index < count; index++) {
          const { start, end } = shardRange(total, { index, count });
          sizes.push(end - start);
          for (let at = start; at < end; at++) owners[at] = index;
        }
        expect(owners).toEqual(Array.from({ length: total }, (_, at) => shardOf(at, total, count)));
        expect(owners.every((o, at) => at === 0 || o >= owners[at - 1]!)).toBe(true);
        sizes = sizes.filter((s) => s > 0);
        if (sizes.length > 0)
          expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }
  });
});

describe('names and steps', () => {
  it('names folders by model and steps by revision', () => {
    expect(modelFolder('EleutherAI/pythia-160m', false)).toBe('pythia-160m');
    expect(modelFolder('someone/pythia-160m-ft', false)).toBe('someone--pythia-160m-ft');
    expect(modelFolder('/data/ckpt/my-model', true)).toBe('my-model');
    expect(revisionStep('step143000')).toBe(143000);
    expect(revisionStep('step0')).toBe(0);
    expect(revisionStep('main')).toBeNull();
  });
});

describe('the plot', () => {
  it('places step 0 at the origin and spreads the doubling steps as on a log axis', () => {
    expect(stepPosition(0)).toBe(0);
    expect(stepPosition(9)).toBe(1);
    expect(stepTicks(143000).map((t) => t.label)).toEqual([
      '0',
      '1',
      '10',
      '100',
      '1k',
      '10k',
      '143k',
    ]);
    expect(stepTicks(512).map((t) => t.label)).toEqual(['0', '1', '10', '100', '512']);
  });

  it('escapes text and carries every point as data attributes', () => {
    expect(escapeXml(`a<b & "c" 'd'>`)).toBe('a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;');
    const svg = plotSvg(
      'x & <y>',
      [{ title: 'piqa', metrics: ['acc'], scale: 'linear' }],
      [
        { model: 'o/m<1>', metric: 'acc', step: 0, value: 0.5, stderr: 0.1, source: 'pythiajs' },
        { model: 'o/m<1>', metric: 'acc', step: 1000, value: 0.625, source: 'official' },
      ],
    );
    expect(svg).toContain('<title>x &amp; &lt;y&gt;</title>');
    expect(svg).not.toMatch(/<y>|m<1>/);
    const points = [
      ...svg.matchAll(
        /data-model="([^"]*)" data-metric="acc" data-step="(\d+)" data-value="([^"]*)" data-source="(\w+)"/g,
      ),
    ];
    expect(points.map((m) => m.slice(1))).toEqual([
      ['o/m&lt;1&gt;', '0', '0.5', 'pythiajs'],
      ['o/m&lt;1&gt;', '1000', '0.625', 'official'],
    ]);
  });
});
