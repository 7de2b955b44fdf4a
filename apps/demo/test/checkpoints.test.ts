import { pythiaCheckpoints } from '@pythiajs/checkpoint-hub';
import { describe, expect, it } from 'vitest';
import { spreadOverTraining, stepOf, trainingOrder } from '../src/checkpoints.js';

describe("a repository's branches in training order", () => {
  it('sorts step branches by step, not by name: step2 before step1000', () => {
    expect(trainingOrder(['step1000', 'step2', 'step512', 'step0', 'step143000'])).toEqual([
      'step0',
      'step2',
      'step512',
      'step1000',
      'step143000',
    ]);
  });

  it('puts main after the steps, then other branches alphabetically', () => {
    expect(trainingOrder(['main', 'fp16', 'step1000', 'bf16', 'step0'])).toEqual([
      'step0',
      'step1000',
      'main',
      'bf16',
      'fp16',
    ]);
  });

  it("gives Pythia's 154 checkpoint branches and main in training order, each once", () => {
    const shuffled = ['main', ...pythiaCheckpoints()].sort().reverse();
    expect(trainingOrder([...shuffled, 'step0'])).toEqual([...pythiaCheckpoints(), 'main']);
  });

  it('reads the step of a checkpoint branch', () => {
    expect(stepOf('step3000')).toBe(3000);
    expect(stepOf('main')).toBeUndefined();
    expect(stepOf('step3000-fp16')).toBeUndefined();
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
    const branches = ['main', ...pythiaCheckpoints()];
    const picked = spreadOverTraining(branches, 6);
    expect(picked).toHaveLength(6);
    expect(picked[0]).toBe('step0');
    expect(picked.at(-1)).toBe('main');
    expect(picked.map((r) => stepOf(r) ?? Infinity)).toEqual(
      [...picked.map((r) => stepOf(r) ?? Infinity)].sort((a, b) => a - b),
    );
  });

  it('ends with one other branch as the trained model when there is no main', () => {
    expect(spreadOverTraining(['step0', 'fp16', 'bf16'], 6)).toEqual(['step0', 'bf16']);
  });
});
