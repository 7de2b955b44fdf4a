import { describe, expect, it } from 'vitest';
import {
  arcEasy,
  bootstrapStderr,
  harnessJson,
  harnessResults,
  lambadaOpenai,
  perplexity,
  pythonFloatRepr,
  TASK_TABLE,
  winogrande,
} from '../src/index.js';

describe('harnessResults', () => {
  it('aggregates each metric and its stderr, in the harness’s order, from per-document values', () => {
    // Two ARC documents with chosen log-likelihoods: acc and acc_norm disagree on the second.
    const doc1 = arcEasy.document({
      id: 'a',
      question: 'q1',
      choices: { text: ['red', 'blue'], label: ['A', 'B'] },
      answerKey: 'A',
    });
    const doc2 = arcEasy.document({
      id: 'b',
      question: 'q2',
      choices: { text: ['no', 'absolutely'], label: ['A', 'B'] },
      answerKey: 'B',
    });
    const doc3 = arcEasy.document({
      id: 'c',
      question: 'q3',
      choices: { text: ['x', 'y'], label: ['1', '2'] },
      answerKey: '2',
    });
    const r = (...lls: number[]) => lls.map((logprob) => ({ logprob, isGreedy: false }));
    const values = [
      arcEasy.score(doc1, r(-1, -2)), // acc 1, norm: −1/3 vs −2/4 → 1
      arcEasy.score(doc2, r(-2, -5)), // acc 0, norm: −2/2 vs −5/10 → 1
      arcEasy.score(doc3, r(-4, -4)), // tie → first: acc 0, acc_norm 0
    ];
    expect(values).toEqual([
      { acc: 1, acc_norm: 1 },
      { acc: 0, acc_norm: 1 },
      { acc: 0, acc_norm: 0 },
    ]);
    const out = harnessResults([{ task: arcEasy, documents: values }], {
      model_args: 'pretrained=EleutherAI/pythia-70m',
    });
    const se = (k: number, n: number) => {
      const p = k / n;
      return Math.sqrt((k * (1 - p) ** 2 + (n - k) * p ** 2) / (n - 1) / n);
    };
    expect(Object.keys(out.results.arc_easy!)).toEqual([
      'acc',
      'acc_stderr',
      'acc_norm',
      'acc_norm_stderr',
    ]);
    expect(out.results.arc_easy!.acc).toBeCloseTo(1 / 3, 15);
    expect(out.results.arc_easy!.acc_stderr).toBeCloseTo(se(1, 3), 15);
    expect(out.results.arc_easy!.acc_norm).toBeCloseTo(2 / 3, 15);
    expect(out.results.arc_easy!.acc_norm_stderr).toBeCloseTo(se(2, 3), 15);
    expect(out.versions).toEqual({ arc_easy: 0 });
    expect(out.config).toEqual({
      model: 'hf-causal',
      model_args: 'pretrained=EleutherAI/pythia-70m',
      num_fewshot: 0,
      batch_size: null,
      device: null,
      no_cache: true,
      limit: null,
      bootstrap_iters: 100000,
      description_dict: {},
    });
  });

  it('reports lambada_openai’s ppl with the bootstrap stderr, then acc', () => {
    const lls = [-1.5, -0.25, -3.75, -2.0, -0.5, -7.125, -1.0, -4.5, -0.875, -2.25, -12.5, -0.125];
    const documents = lls.map((ll, i) =>
      lambadaOpenai.score(lambadaOpenai.document({ text: `w${i} x` }), [
        { logprob: ll, isGreedy: i % 3 === 0 },
      ]),
    );
    const out = harnessResults([{ task: lambadaOpenai, documents }], {
      model_args: '',
      bootstrap_iters: 2000,
    });
    expect(Object.keys(out.results.lambada_openai!)).toEqual([
      'ppl',
      'ppl_stderr',
      'acc',
      'acc_stderr',
    ]);
    expect(out.results.lambada_openai!.ppl).toBe(perplexity(lls));
    expect(out.results.lambada_openai!.ppl_stderr).toBe(bootstrapStderr(perplexity, lls, 2000));
    expect(out.results.lambada_openai!.ppl_stderr).toBeCloseTo(78.52465346879343, 11);
    expect(out.results.lambada_openai!.acc).toBe(4 / 12);
  });

  it('reproduces the official pythia-70m standard errors from the accuracies alone', () => {
    // acc_stderr depends only on how many documents were right: k ones and n − k zeros.
    const official: [keyof typeof TASK_TABLE, number, number][] = [
      ['arc_challenge', 0.18088737201365188, 0.01124857446740701],
      ['arc_easy', 0.37373737373737376, 0.009927267058259621],
      ['piqa', 0.5946681175190425, 0.011454816387346764],
      ['winogrande', 0.5280189423835833, 0.014030404213405777],
      ['wsc', 0.36538461538461536, 0.0474473339327792],
      ['lambada_openai', 0.18455268775470599, 0.00540468283118203],
    ];
    for (const [name, acc, stderr] of official) {
      const n = TASK_TABLE[name].documents;
      const k = Math.round(acc * n);
      const documents = Array.from({ length: n }, (_, i) => ({ acc: i < k ? 1 : 0, ppl: -1 }));
      const task = {
        ...TASK_TABLE[name],
        metrics: [{ name: 'acc', aggregation: 'mean' as const }],
      };
      const out = harnessResults([{ task, documents }], { model_args: '' });
      expect(out.results[name]!.acc).toBe(acc);
      expect(out.results[name]!.acc_stderr).toBeCloseTo(stderr, 15);
    }
  });

  it('refuses a document without a value for a metric', () => {
    expect(() =>
      harnessResults([{ task: winogrande, documents: [{ acc: 1 }, {}] }], { model_args: '' }),
    ).toThrow(/document 1 has no value for acc/);
  });
});

describe('harnessJson', () => {
  it('writes Python’s json.dumps(indent=2): floats as Python prints them, integers as integers', () => {
    const json = harnessJson({
      results: {
        wsc: { acc: 1, acc_stderr: 0.0474473339327792 },
        tiny: { acc: 1e-5, acc_stderr: 0 },
      },
      versions: { wsc: 0, tiny: 0 },
      config: {
        model: 'hf-causal',
        model_args: 'pretrained=EleutherAI/pythia-v1.1-70m,revision=step143000',
        num_fewshot: 0,
        batch_size: 16,
        device: 'cuda:7',
        no_cache: true,
        limit: null,
        bootstrap_iters: 100000,
        description_dict: {},
      },
    });
    expect(json).toBe(
      [
        '{',
        '  "results": {',
        '    "wsc": {',
        '      "acc": 1.0,',
        '      "acc_stderr": 0.0474473339327792',
        '    },',
        '    "tiny": {',
        '      "acc": 1e-05,',
        '      "acc_stderr": 0.0',
        '    }',
        '  },',
        '  "versions": {',
        '    "wsc": 0,',
        '    "tiny": 0',
        '  },',
        '  "config": {',
        '    "model": "hf-causal",',
        '    "model_args": "pretrained=EleutherAI/pythia-v1.1-70m,revision=step143000",',
        '    "num_fewshot": 0,',
        '    "batch_size": 16,',
        '    "device": "cuda:7",',
        '    "no_cache": true,',
        '    "limit": null,',
        '    "bootstrap_iters": 100000,',
        '    "description_dict": {}',
        '  }',
        '}',
      ].join('\n'),
    );
    expect(JSON.parse(json).results.wsc.acc).toBe(1);
  });

  it('formats floats as Python’s repr', () => {
    // CPython 3.11's repr of the same values.
    const values = [
      1.0,
      0.601,
      1e-5,
      0.0001,
      123456789012345680,
      1e16,
      9999999999999998,
      0.1 + 0.2,
      142.42891015470678,
      2.5e-7,
      -0,
    ];
    expect(values.map(pythonFloatRepr)).toEqual([
      '1.0',
      '0.601',
      '1e-05',
      '0.0001',
      '1.2345678901234568e+17',
      '1e+16',
      '9999999999999998.0',
      '0.30000000000000004',
      '142.42891015470678',
      '2.5e-07',
      '-0.0',
    ]);
  });
});
