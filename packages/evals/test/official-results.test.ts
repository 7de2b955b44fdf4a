import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OFFICIAL_CSV } from '../src/official-csv.js';
import { officialModels, officialResults, parseOfficialCsv } from '../src/official-results.js';

describe('officialResults', () => {
  it('embeds the shipped CSV byte for byte (run scripts/embed-official.mjs after changing it)', () => {
    const file = readFileSync(new URL('../data/pythia-zero-shot.csv', import.meta.url), 'utf8');
    expect(OFFICIAL_CSV).toBe(file);
  });

  it('has the 27 published checkpoints of the six models with per-checkpoint results', () => {
    expect(officialModels().sort()).toEqual([
      'pythia-160m',
      'pythia-160m-deduped',
      'pythia-410m',
      'pythia-410m-deduped',
      'pythia-70m',
      'pythia-70m-deduped',
    ]);
    const steps = officialResults('pythia-70m').map((r) => r.step);
    expect(steps).toEqual([
      0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 3000, 13000, 23000, 33000, 43000, 53000,
      63000, 73000, 83000, 93000, 103000, 113000, 123000, 133000, 143000,
    ]);
    expect(officialResults('pythia-1b')).toEqual([]);
  });

  it("gives pythia-70m step143000's numbers as its results JSON (70m_step143000.json) has them", () => {
    const last = officialResults('EleutherAI/pythia-70m').at(-1)!;
    expect(last.step).toBe(143000);
    expect(last.modelArgs).toBe('pretrained=EleutherAI/pythia-v1.1-70m,revision=step143000');
    expect(last.results.lambada_openai).toEqual({
      ppl: 142.42891015470678,
      ppl_stderr: 6.043810708201551,
      acc: 0.18455268775470599,
      acc_stderr: 0.00540468283118203,
    });
    expect(last.results.piqa?.acc_norm).toBe(0.5914036996735582);
    expect(last.results.winogrande).toEqual({
      acc: 0.5280189423835833,
      acc_stderr: 0.014030404213405777,
    });
    // The last column of each CRLF-ended line.
    expect(last.results.wsc).toEqual({ acc: 0.36538461538461536, acc_stderr: 0.0474473339327792 });
    expect(Object.keys(last.results).sort()).toEqual(
      [
        'arc_challenge',
        'arc_easy',
        'lambada_openai',
        'logiqa',
        'piqa',
        'sciq',
        'wsc',
        'winogrande',
      ].sort(),
    );
  });

  it('refuses a line whose cells do not match the header', () => {
    expect(() => parseOfficialCsv('model,step,model_args,piqa.acc\npythia-70m,0,"a,b"\n')).toThrow(
      /line 2 has 3 cells, the header 4/,
    );
  });
});
