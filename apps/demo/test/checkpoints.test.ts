import { describe, expect, it } from 'vitest';
import {
  CHECKPOINTS,
  checkpointAt,
  checkpointIndex,
  SLIDER_MAX,
  sliderPosition,
  sliderTicks,
  spreadOverTraining,
  stepOf,
} from '../src/checkpoints.js';

describe('the checkpoint slider', () => {
  it('covers the 154 checkpoints, step0 to step143000, with main at the end', () => {
    expect(CHECKPOINTS).toHaveLength(154);
    expect(checkpointIndex('step0')).toBe(0);
    expect(checkpointIndex('step512')).toBe(10);
    expect(checkpointIndex('step1000')).toBe(11);
    expect(checkpointIndex('main')).toBe(153);
    expect(checkpointIndex('step143000')).toBe(153);
    expect(checkpointIndex('refs/pr/1')).toBeUndefined();
  });

  it('gives the eleven log-spaced early checkpoints the first 35% of the track', () => {
    expect(sliderPosition(0)).toBe(0);
    expect(sliderPosition(10)).toBe(350);
    expect(sliderPosition(153)).toBe(SLIDER_MAX);
    const positions = CHECKPOINTS.map((_, index) => sliderPosition(index));
    // Strictly increasing: every checkpoint has a place of its own.
    for (const [i, position] of positions.slice(1).entries()) {
      expect(position).toBeGreaterThan(positions[i]!);
    }
    expect(positions[1]! - positions[0]!).toBe(35);
  });

  it('snaps any position to the nearest checkpoint, and each checkpoint to itself', () => {
    for (const index of CHECKPOINTS.keys()) expect(checkpointAt(sliderPosition(index))).toBe(index);
    expect(checkpointAt(17)).toBe(0);
    expect(checkpointAt(18)).toBe(1);
    expect(CHECKPOINTS[checkpointAt(700)]).toBe('step77000');
  });

  it('marks every early checkpoint and every 10,000 steps, labelling some', () => {
    const ticks = sliderTicks();
    expect(ticks).toHaveLength(11 + 14 + 1);
    expect(ticks.filter((t) => t.label).map((t) => t.label)).toEqual([
      '0',
      '4',
      '16',
      '64',
      '512',
      '20k',
      '50k',
      '100k',
      '143k',
    ]);
  });

  it('reads the step of a checkpoint branch', () => {
    expect(stepOf('step3000')).toBe(3000);
    expect(stepOf('main')).toBeUndefined();
  });
});

describe('checkpoints for "across training"', () => {
  it('keeps every branch when there are few, in training order, main last', () => {
    expect(spreadOverTraining(['main', 'step1000', 'step0'], 6)).toEqual([
      'step0',
      'step1000',
      'main',
    ]);
  });

  it('spreads a choice over training, always with the first and the last', () => {
    const branches = ['main', ...CHECKPOINTS];
    const picked = spreadOverTraining(branches, 6);
    expect(picked).toHaveLength(6);
    expect(picked[0]).toBe('step0');
    expect(picked.at(-1)).toBe('main');
    expect(picked.map((r) => stepOf(r) ?? Infinity)).toEqual(
      [...picked.map((r) => stepOf(r) ?? Infinity)].sort((a, b) => a - b),
    );
  });
});
