import type { TaskName, TaskSpec } from './task.js';

const accAndNorm = [
  { name: 'acc', aggregation: 'mean' },
  { name: 'acc_norm', aggregation: 'mean' },
] as const;
const accOnly = [{ name: 'acc', aggregation: 'mean' }] as const;

/**
 * The tasks of the Pythia model card as lm-evaluation-harness v0.3.0 (task `VERSION` 0) ran
 * them: the dataset the harness loaded (`DATASET_PATH`, `DATASET_NAME`) and the split it scored
 * (its test split when the task has one, else validation), where those rows are on the Hub today,
 * how many documents there are, and the metrics with their aggregations.
 *
 * Two of the harness's datasets were loading scripts of its own, now on the Hub as
 * `EleutherAI/lambada_openai` (its one split, `validation` in the script, is `test` there) and
 * `EleutherAI/logiqa`. SuperGLUE's WSC is the `wsc` config, not `wsc.fixed`, as the harness had it.
 */
export const TASK_TABLE: { readonly [name in TaskName]: TaskSpec } = {
  lambada_openai: {
    name: 'lambada_openai',
    version: 0,
    harness: { path: 'lm_eval/datasets/lambada_openai', name: 'default', split: 'validation' },
    hub: { repo: 'EleutherAI/lambada_openai', config: 'default', split: 'test' },
    documents: 5153,
    metrics: [
      { name: 'ppl', aggregation: 'perplexity' },
      { name: 'acc', aggregation: 'mean' },
    ],
  },
  piqa: {
    name: 'piqa',
    version: 0,
    harness: { path: 'piqa', name: null, split: 'validation' },
    hub: { repo: 'ybisk/piqa', config: 'plain_text', split: 'validation' },
    documents: 1838,
    metrics: accAndNorm,
  },
  arc_easy: {
    name: 'arc_easy',
    version: 0,
    harness: { path: 'ai2_arc', name: 'ARC-Easy', split: 'test' },
    hub: { repo: 'allenai/ai2_arc', config: 'ARC-Easy', split: 'test' },
    documents: 2376,
    metrics: accAndNorm,
  },
  arc_challenge: {
    name: 'arc_challenge',
    version: 0,
    harness: { path: 'ai2_arc', name: 'ARC-Challenge', split: 'test' },
    hub: { repo: 'allenai/ai2_arc', config: 'ARC-Challenge', split: 'test' },
    documents: 1172,
    metrics: accAndNorm,
  },
  sciq: {
    name: 'sciq',
    version: 0,
    harness: { path: 'sciq', name: null, split: 'test' },
    hub: { repo: 'allenai/sciq', config: 'default', split: 'test' },
    documents: 1000,
    metrics: accAndNorm,
  },
  logiqa: {
    name: 'logiqa',
    version: 0,
    harness: { path: 'lm_eval/datasets/logiqa', name: 'logiqa', split: 'test' },
    hub: { repo: 'EleutherAI/logiqa', config: 'logiqa', split: 'test' },
    documents: 651,
    metrics: accAndNorm,
  },
  winogrande: {
    name: 'winogrande',
    version: 0,
    harness: { path: 'winogrande', name: 'winogrande_xl', split: 'validation' },
    hub: { repo: 'allenai/winogrande', config: 'winogrande_xl', split: 'validation' },
    documents: 1267,
    metrics: accOnly,
  },
  wsc: {
    name: 'wsc',
    version: 0,
    harness: { path: 'super_glue', name: 'wsc', split: 'validation' },
    hub: { repo: 'aps/super_glue', config: 'wsc', split: 'validation' },
    documents: 104,
    metrics: accOnly,
  },
};

/** The task names in the table's order. */
export const TASK_NAMES = Object.keys(TASK_TABLE) as TaskName[];
