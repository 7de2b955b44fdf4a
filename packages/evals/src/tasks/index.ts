import type { Task, TaskName } from '../task.js';
import { arcChallenge, arcEasy } from './arc.js';
import { lambadaOpenai } from './lambada-openai.js';
import { logiqa } from './logiqa.js';
import { piqa } from './piqa.js';
import { sciq } from './sciq.js';
import { winogrande } from './winogrande.js';
import { wsc } from './wsc.js';

export type { ArcRow } from './arc.js';
export type { LambadaRow } from './lambada-openai.js';
export type { LogiqaRow } from './logiqa.js';
export { parseLogiqaText } from './logiqa.js';
export type { PiqaRow } from './piqa.js';
export type { SciqRow } from './sciq.js';
export type { WinograndeRow } from './winogrande.js';
export type { WscRow } from './wsc.js';
export { generalDetokenize } from './wsc.js';
export { arcChallenge, arcEasy, lambadaOpenai, logiqa, piqa, sciq, winogrande, wsc };

/** Every task by its harness name. */
// biome-ignore lint/suspicious/noExplicitAny: each task takes its own dataset's rows.
export const TASKS: { readonly [name in TaskName]: Task<any> } = {
  lambada_openai: lambadaOpenai,
  piqa,
  arc_easy: arcEasy,
  arc_challenge: arcChallenge,
  sciq,
  logiqa,
  winogrande,
  wsc,
};
