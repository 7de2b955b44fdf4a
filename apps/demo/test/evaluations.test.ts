import { describe, expect, it } from 'vitest';
import {
  clampExamples,
  compareWithOfficial,
  formatMetric,
  type LiveValue,
  noiseText,
  officialCurve,
  officialNote,
  summaryText,
  taskMetrics,
  trainingStep,
} from '../src/evaluations.js';

const STEPS = [
  0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 3000, 13_000, 23_000, 33_000, 43_000, 53_000,
  63_000, 73_000, 83_000, 93_000, 103_000, 113_000, 123_000, 133_000, 143_000,
];

describe('the official curves', () => {
  it("give pythia-70m's piqa accuracy at its 27 published checkpoints, with stderrs", () => {
    const curve = officialCurve('EleutherAI/pythia-70m', 'piqa', 'acc');
    expect(curve.map((p) => p.step)).toEqual(STEPS);
    expect(curve.at(-1)).toEqual({
      step: 143_000,
      value: 0.5946681175190425,
      stderr: 0.011454816387346764,
    });
    expect(curve[0]).toEqual({ step: 0, value: 0.5255712731229597, stderr: 0.011650557844573573 });
  });

  it('give acc_norm and LAMBADA perplexity where the task has them, for the -deduped twins too', () => {
    expect(officialCurve('EleutherAI/pythia-70m', 'piqa', 'acc_norm')[11]).toEqual({
      step: 1000,
      value: 0.5391730141458106,
      stderr: 0.011629966056957104,
    });
    const ppl = officialCurve('EleutherAI/pythia-70m', 'lambada_openai', 'ppl');
    expect(ppl[0]!.value).toBe(3684074.4512471026);
    expect(ppl.at(-1)!.value).toBe(142.42891015470678);
    expect(officialCurve('EleutherAI/pythia-160m-deduped', 'sciq', 'acc')).toHaveLength(27);
  });

  it('are empty for models EleutherAI published no per-checkpoint results for', () => {
    expect(officialCurve('EleutherAI/pythia-1b', 'piqa', 'acc')).toEqual([]);
    expect(officialCurve('EleutherAI/pythia-tiny', 'piqa', 'acc')).toEqual([]);
    expect(officialCurve('EleutherAI/pythia-70m', 'winogrande', 'acc_norm')).toEqual([]);
  });

  it('are described in a line, or their absence said plainly', () => {
    expect(officialNote('EleutherAI/pythia-70m', 'piqa', 'acc')).toBe(
      "EleutherAI's results for pythia-70m at 27 checkpoints (lm-evaluation-harness v0.3.0, " +
        'zero-shot, all 1838 examples).',
    );
    expect(officialNote('EleutherAI/pythia-1b', 'piqa', 'acc')).toMatch(
      /^EleutherAI published no per-checkpoint results for EleutherAI\/pythia-1b: they cover pythia-70m, pythia-160m and pythia-410m/,
    );
  });
});

describe('metrics and examples', () => {
  it('offer acc first, then acc_norm or ppl where the task has it', () => {
    expect(taskMetrics('piqa')).toEqual(['acc', 'acc_norm']);
    expect(taskMetrics('lambada_openai')).toEqual(['acc', 'ppl']);
    expect(taskMetrics('winogrande')).toEqual(['acc']);
  });

  it('keep the number of examples whole and within 2 … 200', () => {
    expect(clampExamples(50)).toBe(50);
    expect(clampExamples(12.4)).toBe(12);
    expect(clampExamples(0)).toBe(2);
    expect(clampExamples(1)).toBe(2);
    expect(clampExamples(5000)).toBe(200);
    expect(clampExamples(Number.NaN)).toBe(50);
  });

  it('print accuracies to 2 decimals and perplexities to 3 digits', () => {
    expect(formatMetric('acc', 0.5946681175190425)).toBe('0.59');
    expect(formatMetric('ppl', 142.42891015470678)).toBe('142');
    expect(formatMetric('ppl', 41.25)).toBe('41.3');
    expect(formatMetric('ppl', 3684074.4512471026)).toBe('3,684,074');
  });
});

describe('the training step of a revision', () => {
  it('is the number of a step branch, and 143000 for main of a Pythia model', () => {
    expect(trainingStep('EleutherAI/pythia-70m', 'step3000')).toBe(3000);
    expect(trainingStep('EleutherAI/pythia-70m-deduped', 'main')).toBe(143_000);
    expect(trainingStep('someone/tiny-neox', 'step0')).toBe(0);
  });

  it('is unknown for main of another repository, and for commits', () => {
    expect(trainingStep('someone/tiny-neox', 'main')).toBeUndefined();
    expect(trainingStep('EleutherAI/pythia-70m', 'a'.repeat(40))).toBeUndefined();
  });
});

describe('the official point a live run is compared with', () => {
  const curve = officialCurve('EleutherAI/pythia-70m', 'piqa', 'acc');

  it('is the official checkpoint that the loaded one is', () => {
    expect(compareWithOfficial(curve, 3000)).toEqual({
      kind: 'same',
      point: { step: 3000, value: 0.5794341675734495, stderr: 0.011517665611282774 },
    });
    expect(compareWithOfficial(curve, 143_000)).toMatchObject({
      kind: 'same',
      point: { value: 0.5946681175190425 },
    });
  });

  it('is none at a step without an official number: the nearest ones either side instead', () => {
    const between = compareWithOfficial(curve, 5000);
    expect(between).toEqual({
      kind: 'nearest',
      before: { step: 3000, value: 0.5794341675734495, stderr: 0.011517665611282774 },
      after: { step: 13_000, value: 0.5865070729053319, stderr: 0.011489895831821131 },
    });
    expect(compareWithOfficial(curve, 200_000)).toEqual({ kind: 'nearest', before: curve.at(-1) });
  });

  it('is none for a model without official numbers, or a revision that is not a step', () => {
    expect(compareWithOfficial([], 3000)).toEqual({ kind: 'no-official' });
    expect(compareWithOfficial(curve, undefined)).toEqual({ kind: 'no-step' });
  });
});

describe('the summary of a live run', () => {
  const live: LiveValue = {
    repo: 'EleutherAI/pythia-70m',
    revision: 'step3000',
    step: 3000,
    task: 'piqa',
    metric: 'acc',
    value: 0.34,
    stderr: 0.06767,
    examples: 50,
  };
  const curve = officialCurve('EleutherAI/pythia-70m', 'piqa', 'acc');

  it('sets the value and its standard error beside the official number at the same step', () => {
    expect(summaryText(live, compareWithOfficial(curve, 3000))).toBe(
      'acc 0.34 ± 0.07 on 50 examples at step 3000 (official, all 1838 examples: 0.58)',
    );
  });

  it('names the nearest official checkpoints where the loaded step has none', () => {
    const at5000 = { ...live, revision: 'step5000', step: 5000 };
    expect(summaryText(at5000, compareWithOfficial(curve, 5000))).toBe(
      'acc 0.34 ± 0.07 on 50 examples at step 5000 (no official number at step 5000; nearest ' +
        'official, all 1838 examples: step 3000: 0.58, step 13000: 0.59)',
    );
  });

  it('says main is step 143000, and when there is nothing to compare with', () => {
    const main = { ...live, revision: 'main', step: 143_000 };
    expect(summaryText(main, compareWithOfficial(curve, 143_000))).toBe(
      'acc 0.34 ± 0.07 on 50 examples at main, step 143000 (official, all 1838 examples: 0.59)',
    );
    const tiny = { ...live, repo: 'EleutherAI/pythia-tiny', examples: 5, stderr: 0.2449 };
    expect(summaryText(tiny, { kind: 'no-official' })).toBe(
      'acc 0.34 ± 0.24 on 5 examples at step 3000 (EleutherAI/pythia-tiny has no official numbers to compare with)',
    );
    const ppl = {
      ...live,
      task: 'lambada_openai' as const,
      metric: 'ppl',
      value: 41.25,
      stderr: 9.81,
    };
    expect(
      summaryText(
        ppl,
        compareWithOfficial(officialCurve(live.repo, 'lambada_openai', 'ppl'), 3000),
      ),
    ).toBe('ppl 41.3 ± 9.81 on 50 examples at step 3000 (official, all 5153 examples: 412)');
  });

  it('is honest that a few examples give a noisy estimate', () => {
    expect(noiseText(live)).toBe(
      '50 of 1838 examples is a noisy estimate: ± is one standard error, and the value over all ' +
        '1838 often differs from it by that much, by more than twice that about one time in ' +
        'twenty. A difference from the official number smaller than about 0.14 says nothing.',
    );
  });
});
