import { pythiaCheckpoints } from '@pythiajs/checkpoint-hub';
import { describe, expect, it } from 'vitest';
import { checkpointScale, SLIDER_MAX } from '../src/checkpoint-scale.js';

/** A Pythia repo's branches, as the slider offers them: the 154 steps, then main. */
const PYTHIA = [...pythiaCheckpoints(), 'main'];

describe("the checkpoint slider's scale over a Pythia repo's 155 branches", () => {
  const scale = checkpointScale(PYTHIA);

  it('gives the eleven log-spaced checkpoints before step 1000 the first 35% of the track', () => {
    expect(scale.positions[0]).toBe(0);
    expect(PYTHIA[10]).toBe('step512');
    expect(scale.positions[10]).toBe(350);
    expect(scale.positions[1]! - scale.positions[0]!).toBe(35);
    expect(scale.positions.at(-1)).toBe(SLIDER_MAX);
  });

  it('gives every branch a position of its own, increasing in training order', () => {
    for (const [i, position] of scale.positions.slice(1).entries()) {
      expect(position).toBeGreaterThan(scale.positions[i]!);
    }
  });

  it('snaps any position to the nearest branch, and each branch to itself', () => {
    for (const [index, position] of scale.positions.entries()) {
      expect(scale.nearest(position)).toBe(index);
    }
    expect(scale.nearest(17)).toBe(0);
    expect(scale.nearest(18)).toBe(1);
    expect(PYTHIA[scale.nearest(700)]).toBe('step77000');
  });

  it('marks each early step, every 10,000th step and main, with labels that do not collide', () => {
    const labelled = scale.ticks.filter((t) => t.label);
    expect(scale.ticks).toHaveLength(11 + 14 + 1);
    expect(labelled.map((t) => t.label)).toEqual([
      '0',
      '4',
      '16',
      '64',
      '512',
      '20k',
      '50k',
      '100k',
      'main',
    ]);
    for (const [i, tick] of labelled.slice(1).entries()) {
      expect(tick.position - labelled[i]!.position).toBeGreaterThanOrEqual(70);
    }
  });
});

describe("the checkpoint slider's scale over other repos", () => {
  it('spaces a few branches evenly, each ticked and labelled', () => {
    const scale = checkpointScale(['step0', 'step1000', 'main']);
    expect(scale.positions).toEqual([0, 500, 1000]);
    expect(scale.ticks.map((t) => t.label)).toEqual(['0', '1k', 'main']);
  });

  it('keeps the early steps no closer than an even spacing would', () => {
    const scale = checkpointScale(['step0', 'step1', 'step2', 'step4', 'main']);
    expect(scale.positions).toEqual([0, 250, 500, 750, 1000]);
  });

  it('puts a lone revision at the end, and finds nothing on an empty one', () => {
    expect(checkpointScale(['main']).positions).toEqual([SLIDER_MAX]);
    expect(checkpointScale(['main']).nearest(0)).toBe(0);
    expect(checkpointScale([]).nearest(0)).toBe(-1);
    expect(checkpointScale([]).ticks).toEqual([]);
  });
});
